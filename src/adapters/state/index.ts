/**
 * The state backends by `state.kind`, listed once: the config schema's `state` section is built from this list, and
 * every command opens its run store and target locks through {@link openStateBackend}.
 */
import type { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { azureBlobState } from './azure-blob.js';
import { fileState } from './file.js';
import type { StateBackend, StateKind } from './state-kind.js';

export type { StateBackend, StateKind, StateOpenContext } from './state-kind.js';

/** Every state kind; the first is the default. Adding a backend: one file beside this one, one entry here. */
export const STATE_KINDS = [fileState, azureBlobState] as const;

type Schemas<T extends readonly StateKind[]> = { -readonly [I in keyof T]: T[I]['schema'] };

/** The kinds' schemas as a tuple, for the config schema's discriminated union. */
export const stateSchemas = STATE_KINDS.map((k) => k.schema) as unknown as Schemas<typeof STATE_KINDS>;

/** The validated `state` section. */
export type StateConfig = z.output<(typeof STATE_KINDS)[number]['schema']>;

/**
 * The kind of a validated `state` section. The cast is sound because the config schema parsed `state` with the
 * schema of the kind its `kind` names.
 */
export function stateKindOf(state: StateConfig): StateKind<string, z.ZodType<StateConfig>> {
  const kind = STATE_KINDS.find((k) => k.kind === state.kind);
  if (!kind) throw new Error(`state.kind ${String(state.kind)} has no backend`);
  return kind as unknown as StateKind<string, z.ZodType<StateConfig>>;
}

/**
 * The run store and target locks the configuration names (`state`). A backend that is a cloud service signs in
 * with the configuration's own `auth` and trusts its `cloud.caFile`, so pass the whole configuration.
 */
export function openStateBackend(
  config: Pick<Config, 'state'> & Partial<Pick<Config, 'tenantId' | 'cloud' | 'auth'>>,
): StateBackend {
  const { tenantId, cloud, auth } = config;
  const context = tenantId && cloud && auth ? { config: { tenantId, cloud, auth } } : {};
  return stateKindOf(config.state).open(config.state, context);
}

/** Where the configured state lives (a directory, a container URL), for messages; opens nothing. */
export function stateLocation(state: StateConfig): string {
  return stateKindOf(state).location(state);
}

/**
 * The server kinds of a keyvault target, listed once: the config schema's `server` section is built from this list,
 * and {@link createServerTarget} makes the target of a configured server through it.
 */
import type { z } from 'zod';
import type { KeyVaultTargetConfig } from '../../config/schema.js';
import type { ServerKeyTarget } from '../ports.js';
import { commandServer } from './command.js';
import { fileServer } from './file.js';
import { manualServer } from './manual.js';
import type { ServerKind, ServerTargetDeps } from './server-kind.js';
import { webhookServer } from './webhook.js';

export type { ServerKind, ServerTargetDeps } from './server-kind.js';

/** Every server kind, in the order messages list them. Adding a kind: one file beside this one, one entry here. */
export const SERVER_KINDS = [webhookServer, commandServer, fileServer, manualServer] as const;

type Schemas<T extends readonly ServerKind[]> = { -readonly [I in keyof T]: T[I]['schema'] };

/** The kinds' schemas as a tuple, for the config schema's discriminated union. */
export const serverSchemas = SERVER_KINDS.map((k) => k.schema) as unknown as Schemas<typeof SERVER_KINDS>;

/** A validated `server` section of any kind. */
export type ServerConfig = z.output<(typeof SERVER_KINDS)[number]['schema']>;

/**
 * The kind of a validated `server` section. The cast is sound because the config schema parsed `server` with the
 * schema of the kind its `kind` names.
 */
export function serverKindOf(server: ServerConfig): ServerKind<string, z.ZodType<ServerConfig>> {
  const kind = SERVER_KINDS.find((k) => k.kind === server.kind);
  if (!kind) throw new Error(`server.kind ${String(server.kind)} has no implementation`);
  return kind as unknown as ServerKind<string, z.ZodType<ServerConfig>>;
}

/** The {@link ServerKeyTarget} for `target.server`. */
export function createServerTarget(target: KeyVaultTargetConfig, deps: ServerTargetDeps): ServerKeyTarget {
  return serverKindOf(target.server).create(target.name, target.server, deps);
}

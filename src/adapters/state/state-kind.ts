/**
 * What a state backend is: a store of runs and a lock per target, opened from the `state` section of the config.
 * One file per kind (`file.ts`; an object store is one more), listed once in `index.ts`.
 */
import type { z } from 'zod';
import type { RunStore, TargetLock } from '../ports.js';

/** A run store and the target locks that go with it, plus where they are, for messages. */
export interface StateBackend {
  store: RunStore;
  lock: TargetLock;
  /** Where the state lives, as a person would look for it (the state directory, a container URL). */
  location: string;
  /** How often a running rotation renews its lock (default: the runner's, 60 s): a third of the backend's lease. */
  renewEveryMs?: number;
}

/**
 * What a backend may need besides its own section: the configuration's sign-in sections (`tenantId`, `cloud`,
 * `auth`), for a backend that is a cloud service. Typed by shape only, because the config schema is built from the
 * state kinds; `openStateBackend` passes the validated sections.
 */
export interface StateOpenContext {
  config?: { tenantId: string; cloud: { caFile?: string | undefined }; auth: { kind: string } };
}

/** One kind of state backend: its `state.kind`, the schema of its `state` section, and how to open it. */
export interface StateKind<K extends string = string, S extends z.ZodType<{ kind: K }> = z.ZodType<{ kind: K }>> {
  kind: K;
  /** The `state` section of this kind: a strict object whose `kind` is the literal `kind`. */
  schema: S;
  /** Makes the section's relative paths absolute (relative to the config file), in place. */
  resolvePaths?(state: z.output<S>, absolute: (path: string) => string): void;
  /** Where the state of this section lives, as a person would look for it (for messages). */
  location(state: z.output<S>): string;
  /** Opens the backend; no I/O happens before the first call on the store or lock. */
  open(state: z.output<S>, context?: StateOpenContext): StateBackend;
}

/** Declares a state kind (only for the types: `open` is typed by the kind's own schema). */
export function defineStateKind<K extends string, S extends z.ZodType<{ kind: K }>>(kind: StateKind<K, S>) {
  return kind;
}

/**
 * What a server kind is: its `server.kind`, the schema of its `server` section, and how to make its
 * {@link ServerKeyTarget}. One file per kind (`webhook.ts`, `command.ts`, `file.ts`, `manual.ts`), listed once in
 * `index.ts`.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Clock, ServerKeyTarget } from '../ports.js';
import type { KeyMaterialLoader } from '../azure/key-material.js';

/** What server targets need from the rest of certrotate. */
export interface ServerTargetDeps {
  /** Reads a key from Key Vault (file targets, command targets with `pemFile`). */
  keyMaterial: KeyMaterialLoader;
  /** For webhook health polling (default: the wall clock). */
  clock?: Clock;
  logger?: Logger;
  /** For `authHeaderEnv` and the command's environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Pause between webhook health polls, ms (default 1000). */
  pollIntervalMs?: number;
}

/** One kind of server: its `server.kind`, the schema of its `server` section, and its target. */
export interface ServerKind<K extends string = string, S extends z.ZodType<{ kind: K }> = z.ZodType<{ kind: K }>> {
  kind: K;
  /** The `server` section of this kind: a strict object whose `kind` is the literal `kind`. */
  schema: S;
  /** Makes the section's relative paths absolute (relative to the config file), in place. */
  resolvePaths?(server: z.output<S>, absolute: (path: string) => string): void;
  /** The target for `server` of the keyvault target named `target`. Does no I/O. */
  create(target: string, server: z.output<S>, deps: ServerTargetDeps): ServerKeyTarget;
}

/** Declares a server kind (only for the types: `create` is typed by the kind's own schema). */
export function defineServerKind<K extends string, S extends z.ZodType<{ kind: K }>>(kind: ServerKind<K, S>) {
  return kind;
}

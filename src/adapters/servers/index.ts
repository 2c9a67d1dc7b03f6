/** The server target of a keyvault target, by `server.kind`. */
import type { Logger } from 'pino';
import type { KeyVaultTargetConfig } from '../../config/schema.js';
import { systemClock } from '../../runs/system-clock.js';
import type { Clock, ServerKeyTarget } from '../ports.js';
import type { KeyMaterialLoader } from '../azure/key-material.js';
import { createCommandTarget } from './command.js';
import { createFileTarget } from './file.js';
import { createManualTarget } from './manual.js';
import { createWebhookTarget } from './webhook.js';

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

/** The {@link ServerKeyTarget} for `target.server`. */
export function createServerTarget(target: KeyVaultTargetConfig, deps: ServerTargetDeps): ServerKeyTarget {
  const server = target.server;
  const common = { ...(deps.logger ? { logger: deps.logger } : {}), ...(deps.env ? { env: deps.env } : {}) };
  switch (server.kind) {
    case 'webhook':
      return createWebhookTarget(target.name, server, {
        clock: deps.clock ?? systemClock,
        ...common,
        ...(deps.pollIntervalMs !== undefined ? { pollIntervalMs: deps.pollIntervalMs } : {}),
      });
    case 'command':
      return createCommandTarget(target.name, server, { keyMaterial: deps.keyMaterial, ...common });
    case 'file':
      return createFileTarget(target.name, server, {
        keyMaterial: deps.keyMaterial,
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
    case 'manual':
      return createManualTarget(target.name, server);
  }
}

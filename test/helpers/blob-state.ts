/**
 * A sandbox with blob storage (Azurite over HTTPS with OAuth) for the azure-blob state tests: one per test file
 * (Azurite's start costs seconds), a fresh prefix per test, and the container client signed in as the sandbox's
 * operator through certrotate's own credential chain.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { createOperatorCredential } from '../../src/adapters/azure/credentials.js';
import { trustExtraCa } from '../../src/adapters/azure/trust.js';
import { openContainer } from '../../src/adapters/state/azure-blob-storage.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';

/** The sandbox, its config, and a container client as certrotate signs in. */
export interface BlobWorld {
  sb: Sandbox;
  config: Config;
  container: ContainerClient;
  /** A prefix no other test uses (`t-<hex>/`). */
  freshPrefix(): string;
  stop(): Promise<void>;
}

/** Starts a sandbox with storage and opens its container. */
export async function startBlobWorld(): Promise<BlobWorld> {
  const sb = await startSandbox({ storage: true, keyPoolSize: 1, propagationDelaySeconds: 1, kvCreateDelaySeconds: 1 });
  try {
    const { config } = await loadConfig(sb.configPath);
    if (config.state.kind !== 'azure-blob') throw new Error(`sandbox wrote state.kind ${config.state.kind}`);
    trustExtraCa(sb.caPem);
    const container = openContainer(
      { accountUrl: config.state.accountUrl, container: config.state.container, prefix: '' },
      createOperatorCredential(config, { caPem: sb.caPem }),
    );
    return {
      sb,
      config,
      container,
      freshPrefix: () => `t-${randomBytes(4).toString('hex')}/`,
      stop: () => sb.stop(),
    };
  } catch (err) {
    await sb.stop();
    throw err;
  }
}

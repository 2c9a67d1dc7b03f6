/**
 * Builds the `azure-blob` store and lock for a configuration: certrotate's own credential (the `auth` section), the
 * extra CA of `cloud.caFile` trusted as for every other service, one container client shared by both.
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import { createOperatorCredential } from '../azure/credentials.js';
import { trustExtraCa } from '../azure/trust.js';
import type { Config } from '../../config/schema.js';
import type { AzureBlobStateConfig } from './azure-blob.js';
import { BlobTargetLock } from './azure-blob-lock.js';
import { BlobRunStore } from './azure-blob-run-store.js';
import { normalisePrefix, openContainer } from './azure-blob-storage.js';
import type { StateOpenContext } from './state-kind.js';

/** The opened backend. */
export interface BlobBackendParts {
  store: BlobRunStore;
  lock: BlobTargetLock;
}

/** Opens the container `state` names, signed in as `config.auth` (or `credential`, when given). */
export function openBlobBackend(
  state: AzureBlobStateConfig,
  signIn: NonNullable<StateOpenContext['config']>,
  credential?: TokenCredential,
): BlobBackendParts {
  // openStateBackend passes the validated sections of the configuration (see StateOpenContext).
  const config = signIn as Pick<Config, 'tenantId' | 'cloud' | 'auth'>;
  const caPem = config.cloud.caFile ? readFileSync(config.cloud.caFile, 'utf8') : undefined;
  // Node's https (the storage SDK's transport) then trusts it; the SDK takes no CA option of its own.
  if (caPem) trustExtraCa(caPem);
  const container = openContainer(
    { accountUrl: state.accountUrl, container: state.container, prefix: state.prefix },
    credential ?? createOperatorCredential(config, caPem ? { caPem } : {}),
  );
  const prefix = normalisePrefix(state.prefix);
  return { store: new BlobRunStore(container, { prefix }), lock: new BlobTargetLock(container, { prefix }) };
}

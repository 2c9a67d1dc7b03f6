/**
 * Disabling an orphaned Key Vault version (I8): an enabled version certrotate made that no credential of the app holds
 * and whose run will never attach it — typically a create that completed after its run ended. `prune` plans from one
 * observation; this re-observes the world right before the write and disables the version only if it still is an
 * orphan by the inventory's rule (src/machines/credential-inventory.ts `orphanVersionPremise`): still enabled, still
 * tagged with a run that is not live, still on no credential of the app, and not the key the server reports now.
 *
 * Safe to re-run: the observation comes first, a version already disabled is `alreadyDisabled` with nothing written,
 * and disabling is itself idempotent. The version is kept (enabled, for audit and for a person) whenever any premise
 * fails, including when the server cannot report its key.
 */
import type { RotationPorts } from '../adapters/rotation-ports.js';
import { orphanVersionPremise } from '../machines/credential-inventory.js';
import type { RotationInput } from '../machines/rotation-types.js';
import { observeInventory, type InventorySources } from './world-guard.js';

/** What {@link disableOrphanVersion} did. */
export type OrphanVersionResult =
  | { result: 'disabled' }
  | { result: 'alreadyDisabled' }
  /** A premise no longer holds: nothing was written. */
  | { result: 'kept'; why: string };

/** Re-observes the target and disables `version` of its certificate if it is still an orphaned version. */
export async function disableOrphanVersion(
  ports: Pick<RotationPorts, 'apps' | 'certificates' | 'server' | 'clock'>,
  sources: InventorySources,
  input: Pick<RotationInput, 'target' | 'appId' | 'keyVault'>,
  version: string,
  signal?: AbortSignal,
): Promise<OrphanVersionResult> {
  const certificate = input.keyVault?.certificate;
  if (!certificate) return { result: 'kept', why: 'the target has no Key Vault certificate' };
  // A fresh read of everything the rule depends on: the app, the versions, the server's key, the runs and the lock.
  const observed = await observeInventory(ports, { ...sources, listed: sources.store.listRuns() }, input, signal);
  const seen = observed.input.versions.find((v) => v.version === version);
  if (seen && !seen.enabled) return { result: 'alreadyDisabled' };
  if (!observed.serverThumbprint) {
    return { result: 'kept', why: 'the server reports no key now, so it cannot be shown unused' };
  }
  const why = orphanVersionPremise(observed.input, version);
  if (why) return { result: 'kept', why };
  await ports.certificates.setVersionEnabled(certificate, version, false, signal ? { signal } : {});
  return { result: 'disabled' };
}

/**
 * The JSON shape of a target's credential inventory (src/machines/credential-inventory.ts), one definition for the
 * rows of `scan --json` and the documents of `plan --json`, so the two cannot describe the same keys differently.
 */
import type { CredentialInventory, CredentialRole } from '../machines/credential-inventory.js';

/** One key credential of the app, as scan and plan report it. */
export interface ScanCredential {
  thumbprint: string;
  keyId: string;
  expiresOn: string;
  /** The run that added it (its world marker); null when certrotate did not. */
  runId: string | null;
  role: CredentialRole;
}

/** An orphaned Key Vault version, as scan and plan report it (the inventory's `orphanVersions`). */
export interface ScanOrphanVersion {
  version: string;
  thumbprint: string;
  createdOn: string;
  expiresOn: string;
  /** The run its tag names. */
  runId: string;
  role: 'orphaned';
  why: string;
}

/** The app's credentials, and the orphaned versions beside them only when there are any (an additive field). */
export function inventoryJson(inventory: CredentialInventory): {
  credentials: ScanCredential[];
  orphanVersions?: ScanOrphanVersion[];
} {
  const credentials = inventory.entries.map((e) => ({
    thumbprint: e.thumbprint,
    keyId: e.keyId,
    expiresOn: e.expiresOn,
    runId: e.runId,
    role: e.role,
  }));
  const orphanVersions = inventory.orphanVersions.map((v) => ({
    version: v.version,
    thumbprint: v.thumbprint,
    createdOn: v.createdOn,
    expiresOn: v.expiresOn,
    runId: v.runId,
    role: 'orphaned' as const,
    why: v.why,
  }));
  return { credentials, ...(orphanVersions.length ? { orphanVersions } : {}) };
}

/**
 * The marks certrotate leaves in Azure so that any agent, with no local state, can tell what a run added (I8):
 * the Key Vault version's tag and the key credential's `displayName` both carry the run id. Pure: no I/O.
 */

/** The Key Vault certificate version tag naming the run that created the version. */
export const RUN_TAG = 'certrotate-run';

/** What a key credential's `displayName` starts with when certrotate added it; the run id follows. */
export const CREDENTIAL_MARKER_PREFIX = 'certrotate ';

/** A run id as `newRunId` makes them: `20261201T120000Z-<target>-<hex>`; also older ids of letters and digits. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,120}$/;

/** The `displayName` of a key credential added by run `runId`: `certrotate <runId>`. */
export function credentialDisplayName(runId: string): string {
  return `${CREDENTIAL_MARKER_PREFIX}${runId}`;
}

/** The run that added a key credential, from its `displayName`; undefined when certrotate did not add it. */
export function runIdOfCredential(displayName: string | undefined | null): string | undefined {
  if (!displayName?.startsWith(CREDENTIAL_MARKER_PREFIX)) return undefined;
  const runId = displayName.slice(CREDENTIAL_MARKER_PREFIX.length).trim();
  return RUN_ID.test(runId) ? runId : undefined;
}

/** The run that created a Key Vault version, from its tags; undefined when certrotate did not create it. */
export function runIdOfVersion(tags: Readonly<Record<string, string>> | undefined): string | undefined {
  const runId = tags?.[RUN_TAG];
  return runId && RUN_ID.test(runId) ? runId : undefined;
}

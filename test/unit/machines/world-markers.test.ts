import { describe, expect, it } from 'vitest';
import {
  credentialDisplayName,
  runIdOfCredential,
  runIdOfVersion,
  RUN_TAG,
} from '../../../src/machines/world-markers.js';

describe('world markers', () => {
  const runId = '20261201T120000Z-contoso-api-a1b2c3';

  it('round-trips a run id through a key credential displayName', () => {
    expect(credentialDisplayName(runId)).toBe(`certrotate ${runId}`);
    expect(runIdOfCredential(credentialDisplayName(runId))).toBe(runId);
  });

  it("tells others' credentials from ours", () => {
    expect(runIdOfCredential('CN=contoso-s2s')).toBeUndefined();
    expect(runIdOfCredential(undefined)).toBeUndefined();
    expect(runIdOfCredential(null)).toBeUndefined();
    expect(runIdOfCredential('certrotate ')).toBeUndefined();
    expect(runIdOfCredential('certrotate has spaces in it')).toBeUndefined();
    expect(runIdOfCredential('Certrotate ' + runId)).toBeUndefined();
  });

  it('reads the run id from a Key Vault version tag', () => {
    expect(runIdOfVersion({ [RUN_TAG]: runId, other: 'x' })).toBe(runId);
    expect(runIdOfVersion({ other: 'x' })).toBeUndefined();
    expect(runIdOfVersion(undefined)).toBeUndefined();
  });
});

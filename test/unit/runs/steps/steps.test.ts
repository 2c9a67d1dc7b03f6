import { describe, expect, it } from 'vitest';
import { RUN_ID_TAG } from '../../../../src/machines/rotation-policies.js';
import { awaitCertificate } from '../../../../src/runs/steps/await-certificate.js';
import { attachKeyCredential } from '../../../../src/runs/steps/attach-key-credential.js';
import { generateCertificate } from '../../../../src/runs/steps/generate-certificate.js';
import { installServerKey } from '../../../../src/runs/steps/install-server-key.js';
import { retireOldKey } from '../../../../src/runs/steps/retire-old-key.js';
import { rollBackRotation } from '../../../../src/runs/steps/roll-back-rotation.js';
import { verifyNewKey } from '../../../../src/runs/steps/verify-new-key.js';
import type { KeyRef } from '../../../../src/adapters/ports.js';
import { rotationInput } from '../../../fakes/harness.js';
import { APP_ID, CERTIFICATE, DATAVERSE, FakeWorld, type WorldOptions } from '../../../fakes/world.js';

const step = (rerun = false) => ({ signal: new AbortController().signal, rerun });
const policy = rotationInput().keyVault!.policy;
const ref = (v: { thumbprint: string; secretId: string }): KeyRef => ({
  thumbprint: v.thumbprint,
  secretId: v.secretId,
});

/** A world with the run's new version already created (and returned). */
async function withNewVersion(options: WorldOptions = {}) {
  const world = new FakeWorld(options);
  const created = world.seedTaggedVersion('run-0001');
  return { world, oldKey: ref(world.seededVersion), newKey: ref(created), created };
}

describe('generateCertificate', () => {
  const input = { runId: 'run-0001', certificate: CERTIFICATE, policy };

  it('creates one version tagged with the run id, and a re-run polls it instead of creating another', async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    const first = await generateCertificate(ports, input, step());
    expect(first).toMatchObject({ status: 'pending', reused: false });
    const again = await generateCertificate(ports, input, step(true));
    expect(again).toMatchObject({ status: 'pending', reused: true });
    world.clock.advance(60_000);
    const done = await generateCertificate(ports, input, step(true));
    expect(done).toMatchObject({ status: 'ready', reused: true });
    expect(world.calls.filter((c) => c === 'certificates.beginCreate')).toHaveLength(1);
    expect(world.allVersions().at(-1)!.tags[RUN_ID_TAG]).toBe('run-0001');
  });

  it('refuses to adopt a pending create tagged with another run: superseded by that run (not a failure)', async () => {
    const world = new FakeWorld({ pendingReportsTags: true });
    await generateCertificate(world.ports(), { ...input, runId: 'run-other' }, step());
    await expect(generateCertificate(world.ports(), input, step())).rejects.toMatchObject({
      detail: { code: 'superseded', retryable: false, message: expect.stringContaining('run run-other') },
    });
    expect(world.calls.filter((c) => c === 'certificates.beginCreate')).toHaveLength(1);
  });

  it('a pending create another agent started, adopted while it showed no tag, ends superseded once it completes', async () => {
    // Two agents with their own state dirs and locks: the other's create is pending and untagged when this run looks.
    const world = new FakeWorld();
    await generateCertificate(world.ports(), { ...input, runId: 'run-other' }, step());
    const adopted = await generateCertificate(world.ports(), input, step(true));
    expect(adopted).toMatchObject({ status: 'pending', reused: true });
    world.clock.advance(60_000);
    const operation = (adopted as { operation: Parameters<typeof awaitCertificate>[1]['operation'] }).operation;
    await expect(awaitCertificate(world.ports(), { runId: 'run-0001', operation }, step())).rejects.toMatchObject({
      detail: { code: 'superseded', retryable: false, message: expect.stringContaining('made by run run-other') },
    });
    // So does a resumed run whose snapshot holds that operation.
    await expect(generateCertificate(world.ports(), { ...input, operation }, step(true))).rejects.toMatchObject({
      detail: { code: 'superseded', retryable: false },
    });
    expect(world.calls.filter((c) => c === 'certificates.beginCreate')).toHaveLength(1);
  });

  it('fails (not retryable) when the persisted operation failed', async () => {
    const world = new FakeWorld();
    const operation = { certificateName: CERTIFICATE, serialized: JSON.stringify({ id: 'nope' }) };
    await expect(generateCertificate(world.ports(), { ...input, operation }, step())).rejects.toMatchObject({
      detail: { retryable: false },
    });
  });
});

describe('attachKeyCredential', () => {
  it('a lagging read would add the key twice; a re-run waits out the lag and does not', async () => {
    const { world, oldKey, newKey } = await withNewVersion({ readLagMs: 5_000 });
    const ports = world.ports({ readSettleMs: 20_000 });
    const input = { runId: 'run-0001', appId: APP_ID, newKey, proofKey: oldKey, attempt: 1 };
    const first = await attachKeyCredential(ports, input, step());
    expect(first.method).toBe('addKey');
    const rerun = await attachKeyCredential(ports, { ...input, attempt: 2 }, step(true));
    expect(rerun).toEqual({ keyId: first.keyId, method: 'alreadyAttached' });
    expect(world.appKeys().filter((k) => k.thumbprint === newKey.thumbprint)).toHaveLength(1);

    // The hazard the settle guards against: a first-attempt read right after the write misses it.
    const { world: naive, oldKey: o2, newKey: n2 } = await withNewVersion({ readLagMs: 5_000 });
    await attachKeyCredential(
      naive.ports(),
      { runId: 'run-0001', appId: APP_ID, newKey: n2, proofKey: o2, attempt: 1 },
      step(),
    );
    await attachKeyCredential(
      naive.ports(),
      { runId: 'run-0001', appId: APP_ID, newKey: n2, proofKey: o2, attempt: 1 },
      step(),
    );
    expect(naive.appKeys().filter((k) => k.thumbprint === n2.thumbprint)).toHaveLength(2);
  });

  it('falls back to a merge-PATCH when no current key can sign a proof, keeping the old key', async () => {
    const { world, oldKey, newKey } = await withNewVersion();
    const result = await attachKeyCredential(
      world.ports(),
      { runId: 'run-0001', appId: APP_ID, newKey, attempt: 1 },
      step(),
    );
    expect(result.method).toBe('patch');
    const refused = await withNewVersion();
    const viaRefusedProof = await attachKeyCredential(
      refused.world.ports(),
      {
        runId: 'run-0001',
        appId: APP_ID,
        newKey: refused.newKey,
        proofKey: { ...refused.oldKey, secretId: 'wrong' },
        attempt: 1,
      },
      step(),
    );
    expect(viaRefusedProof.method).toBe('patch');
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([oldKey.thumbprint, newKey.thumbprint]);
  });
});

describe('installServerKey', () => {
  it('asks the server first and does nothing when it already uses the new key', async () => {
    const { world, newKey } = await withNewVersion();
    world.operatorInstalls(newKey.thumbprint);
    const result = await installServerKey(
      world.ports(),
      { runId: 'run-0001', appId: APP_ID, newKey, operatorConfirmed: false },
      step(),
    );
    expect(result.status).toBe('alreadyInstalled');
    expect(world.calls).not.toContain('server.install');
  });
});

describe('verifyNewKey', () => {
  it('is retryable while the server still reports another key', async () => {
    const { world, newKey } = await withNewVersion({ propagationMs: 0 });
    await world.ports().apps.patchKeyCredentials(APP_ID, { add: [newKey] });
    const input = { kind: 'keyvault' as const, appId: APP_ID, newKey, dataverseUrl: DATAVERSE };
    await expect(verifyNewKey(world.ports(), input, step())).rejects.toMatchObject({
      detail: { code: 'serverKeyMismatch', retryable: true },
    });
    world.operatorInstalls(newKey.thumbprint);
    await expect(verifyNewKey(world.ports(), input, step())).resolves.toMatchObject({ userId: 'user-1' });
  });
});

describe('retireOldKey', () => {
  it('refuses while the server still uses the old key (I1), and treats "already gone" as success', async () => {
    const { world, oldKey, newKey } = await withNewVersion({ propagationMs: 0, readLagMs: 0 });
    const ports = world.ports();
    const attached = await ports.apps.addKey(APP_ID, newKey, oldKey);
    const oldKeyId = world.appKeys().find((k) => k.thumbprint === oldKey.thumbprint)!.keyId;
    const input = {
      kind: 'keyvault' as const,
      appId: APP_ID,
      oldKeyId,
      oldThumbprint: oldKey.thumbprint,
      newKey,
      certificate: CERTIFICATE,
      oldVersion: world.seededVersion.version,
    };
    await expect(retireOldKey(ports, input, step())).rejects.toMatchObject({
      detail: { code: 'serverStillOnOldKey' },
    });
    await ports.server!.install(newKey);
    await expect(retireOldKey(ports, input, step())).resolves.toEqual({
      keyRemoved: 'removed',
      method: 'removeKey',
      versionDisabled: 'disabled',
    });
    await expect(retireOldKey(ports, input, step(true))).resolves.toEqual({
      keyRemoved: 'alreadyGone',
      versionDisabled: 'alreadyDisabled',
    });
    expect(world.appKeys().map((k) => k.keyId)).toEqual([attached.keyId]);
  });
});

describe('rollBackRotation', () => {
  it('puts the old key back on the server before the new key leaves the app (I1)', async () => {
    const { world, oldKey, newKey, created } = await withNewVersion({ propagationMs: 0, readLagMs: 0 });
    const ports = world.ports();
    const attached = await ports.apps.addKey(APP_ID, newKey, oldKey);
    await ports.server!.install(newKey);
    const input = {
      runId: 'run-0001',
      appId: APP_ID,
      oldKey,
      newKey,
      newKeyId: attached.keyId,
      certificate: CERTIFICATE,
      newVersion: created.version,
      serverManual: false,
      installed: true,
      operatorConfirmed: false,
    };
    const result = await rollBackRotation(ports, input, step());
    expect(result).toEqual({
      status: 'rolledBack',
      serverRestored: 'restored',
      keyRemoved: 'removed',
      versionDisabled: 'disabled',
    });
    const order = world.history.filter((e) => e.kind === 'serverKey' || e.kind === 'keyRemoved').map((e) => e.kind);
    expect(order.slice(-2)).toEqual(['serverKey', 'keyRemoved']);
    const again = await rollBackRotation(ports, input, step(true));
    expect(again).toEqual({
      status: 'rolledBack',
      serverRestored: 'alreadyOld',
      keyRemoved: 'alreadyGone',
      versionDisabled: 'alreadyDisabled',
    });
  });

  it('on a manual server that may hold the new key, asks the operator before removing anything', async () => {
    const { world, oldKey, newKey } = await withNewVersion({ serverManual: true });
    const result = await rollBackRotation(
      world.ports(),
      {
        runId: 'run-0001',
        appId: APP_ID,
        oldKey,
        newKey,
        serverManual: true,
        installed: true,
        operatorConfirmed: false,
      },
      step(),
    );
    expect(result.status).toBe('needsOperator');
    expect(world.calls).toEqual([]);
  });
});

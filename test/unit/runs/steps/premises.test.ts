/**
 * The premise checks of the mutating steps (I7) over the fake world: each step, given what preflight saw, refuses
 * with `superseded` (naming the other run from its world marker) once another agent has rotated the target, and acts
 * as before when nothing changed. The withdrawal takes back only this run's unused additions.
 */
import { describe, expect, it } from 'vitest';
import { AdapterError, type KeyRef } from '../../../../src/adapters/ports.js';
import { premisesOf } from '../../../../src/machines/flows/superseded.js';
import { RUN_ID_TAG } from '../../../../src/machines/rotation-policies.js';
import { selectCurrentKey } from '../../../../src/machines/rotation-policies.js';
import type { Premises } from '../../../../src/machines/rotation-types.js';
import { credentialDisplayName } from '../../../../src/machines/world-markers.js';
import { attachKeyCredential } from '../../../../src/runs/steps/attach-key-credential.js';
import { generateCertificate } from '../../../../src/runs/steps/generate-certificate.js';
import { installServerKey } from '../../../../src/runs/steps/install-server-key.js';
import { observeTarget } from '../../../../src/runs/steps/observe-target.js';
import { retireOldKey } from '../../../../src/runs/steps/retire-old-key.js';
import { rollBackRotation } from '../../../../src/runs/steps/roll-back-rotation.js';
import { withdrawAdditions } from '../../../../src/runs/steps/withdraw-additions.js';
import { rotationInput } from '../../../fakes/harness.js';
import { APP_ID, CERTIFICATE, FakeWorld } from '../../../fakes/world.js';

const RUN = 'run-0001';
const OTHER = 'run-other';
const step = (rerun = false) => ({ signal: new AbortController().signal, rerun });
const ref = (v: { thumbprint: string; secretId: string }): KeyRef => ({
  thumbprint: v.thumbprint,
  secretId: v.secretId,
});
const policy = rotationInput().keyVault!.policy;

/** A world, what preflight recorded in it, and this run's new version (created after preflight). */
async function preflighted() {
  const world = new FakeWorld({ propagationMs: 0, readLagMs: 0 });
  const observation = await observeTarget(
    world.ports(),
    { runId: RUN, kind: 'keyvault', appId: APP_ID, certificate: CERTIFICATE },
    step(),
  );
  const selection = selectCurrentKey(observation, rotationInput());
  if (!selection.ok) throw new Error(selection.message);
  const premises: Premises = premisesOf(observation, selection.key);
  const created = world.seedTaggedVersion(RUN);
  return { world, premises, oldKey: ref(world.seededVersion), newKey: ref(created), created };
}

const supersededNaming = (what: string) => ({
  detail: { code: 'superseded', retryable: false, message: expect.stringContaining(what) as unknown },
});

describe('premises at preflight', () => {
  it('record the old key and its credential, the server key, the newest version and the app keys', async () => {
    const { world, premises } = await preflighted();
    expect(premises).toEqual({
      oldThumbprint: world.seededVersion.thumbprint,
      oldKeyId: world.appKeys()[0]!.keyId,
      serverThumbprint: world.seededVersion.thumbprint,
      latestVersion: { version: world.seededVersion.version, createdOn: world.seededVersion.createdOn },
      keyIds: [world.appKeys()[0]!.keyId],
    });
  });
});

describe('generateCertificate premise', () => {
  it('refuses a newer version another run made since preflight, and creates nothing', async () => {
    const { world, premises } = await preflighted();
    world.anotherRunRotates({ runId: OTHER });
    const input = { runId: 'run-late', certificate: CERTIFICATE, policy, premises };
    await expect(generateCertificate(world.ports(), input, step())).rejects.toMatchObject(supersededNaming(OTHER));
    expect(world.calls).not.toContain('certificates.beginCreate');
  });

  it('finds its own version as before when only it made one', async () => {
    const { world, premises, created } = await preflighted();
    const input = { runId: RUN, certificate: CERTIFICATE, policy, premises };
    const result = await generateCertificate(world.ports(), input, step(true));
    expect(result).toMatchObject({ status: 'ready', reused: true, key: { version: created.version } });
    expect(result.status === 'ready' && result.key.notBefore).toBe(created.notBefore);
  });

  it('ignores a newer version that is disabled (withdrawn or rolled back: nothing changed in service)', async () => {
    const { world, premises } = await preflighted();
    const theirs = world.anotherRunRotates({ runId: OTHER });
    await world.ports().certificates.setVersionEnabled(CERTIFICATE, theirs.version, false);
    const input = { runId: RUN, certificate: CERTIFICATE, policy, premises };
    await expect(generateCertificate(world.ports(), input, step())).resolves.toMatchObject({ status: 'ready' });
  });
});

describe('attachKeyCredential premise and marker', () => {
  it('names the credential it adds after its run (addKey and PATCH)', async () => {
    const viaAddKey = await preflighted();
    const input = { runId: RUN, appId: APP_ID, newKey: viaAddKey.newKey, proofKey: viaAddKey.oldKey, attempt: 1 };
    await attachKeyCredential(viaAddKey.world.ports(), { ...input, premises: viaAddKey.premises }, step());
    expect(viaAddKey.world.appKeys().at(-1)).toMatchObject({
      thumbprint: viaAddKey.newKey.thumbprint,
      displayName: credentialDisplayName(RUN),
    });

    const viaPatch = await preflighted();
    const patched = await attachKeyCredential(
      viaPatch.world.ports(),
      { runId: RUN, appId: APP_ID, newKey: viaPatch.newKey, attempt: 1, premises: viaPatch.premises },
      step(),
    );
    expect(patched.method).toBe('patch');
    expect(viaPatch.world.appKeys().at(-1)?.displayName).toBe(credentialDisplayName(RUN));
  });

  it('refuses when the old key is gone from the app, naming the run whose key replaced it', async () => {
    const { world, premises, newKey, oldKey } = await preflighted();
    const theirs = world.anotherRunRotates({ runId: OTHER, retiresOld: true });
    const input = { runId: RUN, appId: APP_ID, newKey, proofKey: oldKey, attempt: 1, premises };
    await expect(attachKeyCredential(world.ports(), input, step())).rejects.toMatchObject(
      supersededNaming(
        `the old key ${premises.oldThumbprint} is no longer on app ${APP_ID}; it now holds key ${theirs.thumbprint}, added by run ${OTHER}`,
      ),
    );
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([theirs.thumbprint]);
  });

  it('refuses a newer valid credential another run added since preflight', async () => {
    const { world, premises, newKey, oldKey } = await preflighted();
    const theirs = world.anotherRunRotates({ runId: OTHER });
    const input = { runId: RUN, appId: APP_ID, newKey, proofKey: oldKey, attempt: 1, premises };
    await expect(attachKeyCredential(world.ports(), input, step())).rejects.toMatchObject(
      supersededNaming(`gained key ${theirs.thumbprint} after this run's preflight, added by run ${OTHER}`),
    );
    expect(world.calls).not.toContain('apps.addKey');
  });

  it('says "someone other than certrotate" for a newer key without a marker', async () => {
    const { world, premises, newKey, oldKey } = await preflighted();
    world.anotherRunRotates({ runId: OTHER, marker: false });
    const input = { runId: RUN, appId: APP_ID, newKey, proofKey: oldKey, attempt: 1, premises };
    await expect(attachKeyCredential(world.ports(), input, step())).rejects.toMatchObject(
      supersededNaming('someone other than certrotate'),
    );
  });

  it('does not count its own earlier attempt as another run', async () => {
    const { world, premises, newKey, oldKey } = await preflighted();
    const input = { runId: RUN, appId: APP_ID, newKey, proofKey: oldKey, attempt: 1, premises };
    const first = await attachKeyCredential(world.ports(), input, step());
    const again = await attachKeyCredential(world.ports(), { ...input, attempt: 2 }, step(true));
    expect(again).toEqual({ keyId: first.keyId, method: 'alreadyAttached' });
  });
});

describe('server premises: install, retire, rollback', () => {
  it('install refuses to put an older key over another run’s, and the server keeps the newer key', async () => {
    const { world, premises, newKey } = await preflighted();
    const theirs = world.anotherRunRotates({ runId: OTHER, installs: true });
    const input = { runId: RUN, appId: APP_ID, certificate: CERTIFICATE, newKey, operatorConfirmed: false, premises };
    await expect(installServerKey(world.ports(), input, step())).rejects.toMatchObject(
      supersededNaming(`the server uses key ${theirs.thumbprint}`),
    );
    await expect(installServerKey(world.ports(), input, step())).rejects.toMatchObject(
      supersededNaming(`put there by run ${OTHER}`),
    );
    expect(world.serverKey()).toBe(theirs.thumbprint);
    expect(world.calls).not.toContain('server.install');
  });

  it('install turns the server’s serverHasNewerKey into superseded', async () => {
    const { world, premises, newKey } = await preflighted();
    const ports = world.ports();
    const server = ports.server!;
    ports.server = {
      ...server,
      install: async () => {
        throw new AdapterError({
          code: 'serverHasNewerKey',
          message: 'server contoso-api uses key NEWER, newer than ours',
          retryable: false,
        });
      },
    };
    const input = { runId: RUN, appId: APP_ID, newKey, operatorConfirmed: false, premises };
    await expect(installServerKey(ports, input, step())).rejects.toMatchObject(
      supersededNaming('server contoso-api uses key NEWER'),
    );
  });

  it('install goes ahead while the server is on the old key', async () => {
    const { world, premises, newKey } = await preflighted();
    const input = { runId: RUN, appId: APP_ID, newKey, operatorConfirmed: false, premises };
    await expect(installServerKey(world.ports(), input, step())).resolves.toEqual({ status: 'installed' });
    expect(world.serverKey()).toBe(newKey.thumbprint);
  });

  it('retire removes nothing when the server is on a third key', async () => {
    const { world, premises, newKey } = await preflighted();
    world.anotherRunRotates({ runId: OTHER, installs: true });
    const before = world.appKeys();
    const input = {
      kind: 'keyvault' as const,
      premises,
      appId: APP_ID,
      oldKeyId: premises.oldKeyId,
      oldThumbprint: premises.oldThumbprint,
      newKey,
      certificate: CERTIFICATE,
    };
    await expect(retireOldKey(world.ports(), input, step())).rejects.toMatchObject(supersededNaming(`run ${OTHER}`));
    expect(world.appKeys()).toEqual(before);
  });

  it('rollback never moves the server back from a third key', async () => {
    const { world, premises, newKey, oldKey, created } = await preflighted();
    const theirs = world.anotherRunRotates({ runId: OTHER, installs: true });
    const input = {
      runId: RUN,
      premises,
      appId: APP_ID,
      oldKey,
      newKey,
      certificate: CERTIFICATE,
      newVersion: created.version,
      serverManual: false,
      installed: true,
      operatorConfirmed: false,
    };
    await expect(rollBackRotation(world.ports(), input, step())).rejects.toMatchObject(
      supersededNaming('refusing to move it back to the old key'),
    );
    expect(world.serverKey()).toBe(theirs.thumbprint);
    expect(world.calls).not.toContain('server.restore');
  });
});

describe('withdrawAdditions', () => {
  const base = { runId: RUN, appId: APP_ID, certificate: CERTIFICATE, serverManual: false, mayBeInstalled: false };

  it('removes only its own unused key and disables only its own version', async () => {
    const { world, newKey, oldKey, premises, created } = await preflighted();
    await attachKeyCredential(
      world.ports(),
      { runId: RUN, appId: APP_ID, newKey, proofKey: oldKey, attempt: 1, premises },
      step(),
    );
    const theirs = world.anotherRunRotates({ runId: OTHER, retiresOld: true });
    const result = await withdrawAdditions(
      world.ports(),
      { ...base, newKey, newVersion: created.version, oldKey },
      step(),
    );
    expect(result).toEqual({ keyRemoved: 'removed', versionDisabled: 'disabled' });
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([theirs.thumbprint]);
    const enabled = world
      .allVersions()
      .filter((v) => v.enabled)
      .map((v) => v.version);
    expect(enabled).toEqual([theirs.version]);
  });

  it('finds its version by its tag when the run never recorded it', async () => {
    const { world, created } = await preflighted();
    world.anotherRunRotates({ runId: OTHER, installs: true });
    const result = await withdrawAdditions(world.ports(), base, step());
    expect(result).toEqual({ keyRemoved: 'none', versionDisabled: 'disabled' });
    expect(world.allVersions().find((v) => v.version === created.version)?.enabled).toBe(false);
  });

  it('keeps everything the server uses, and on a manual server everything a person may have installed', async () => {
    const { world, newKey, oldKey, premises, created } = await preflighted();
    await attachKeyCredential(
      world.ports(),
      { runId: RUN, appId: APP_ID, newKey, proofKey: oldKey, attempt: 1, premises },
      step(),
    );
    await world.ports().server!.install(newKey);
    const input = { ...base, newKey, newVersion: created.version, oldKey };
    await expect(withdrawAdditions(world.ports(), input, step())).resolves.toEqual({
      keyRemoved: 'inUse',
      versionDisabled: 'inUse',
    });
    await expect(
      withdrawAdditions(world.ports(), { ...input, serverManual: true, mayBeInstalled: true }, step()),
    ).resolves.toEqual({ keyRemoved: 'mayBeInUse', versionDisabled: 'mayBeInUse' });
    expect(world.appKeys().map((k) => k.thumbprint)).toContain(newKey.thumbprint);
  });

  describe('superseded while its own Key Vault create is still pending', () => {
    /** A world where this run started a create (not yet issued) and another run then rotated the target. */
    async function pendingThenSuperseded(options: { createDelayMs?: number; pendingReportsTags?: boolean } = {}) {
      const world = new FakeWorld({ propagationMs: 0, readLagMs: 0, createDelayMs: 8_000, ...options });
      const operation = await world.ports().certificates.beginCreate(CERTIFICATE, policy, { [RUN_ID_TAG]: RUN });
      const theirs = world.anotherRunRotates({ runId: OTHER, installs: true });
      return { world, operation, theirs };
    }
    const ownVersions = (world: FakeWorld) => world.allVersions().filter((v) => v.tags[RUN_ID_TAG] === RUN);

    it('waits for the create it recorded and disables the version it makes, which nothing uses', async () => {
      const { world, operation, theirs } = await pendingThenSuperseded();
      expect(ownVersions(world)).toEqual([]);
      const result = await withdrawAdditions(world.ports(), { ...base, operation }, step());
      expect(result).toEqual({ keyRemoved: 'none', versionDisabled: 'disabled' });
      expect(ownVersions(world).map((v) => v.enabled)).toEqual([false]);
      // Another run's version and key stay as they are.
      expect(world.allVersions().find((v) => v.version === theirs.version)?.enabled).toBe(true);
      expect(world.serverKey()).toBe(theirs.thumbprint);
    });

    it('finds a pending create tagged with this run that its snapshot never recorded', async () => {
      const { world } = await pendingThenSuperseded({ pendingReportsTags: true });
      await expect(withdrawAdditions(world.ports(), base, step())).resolves.toEqual({
        keyRemoved: 'none',
        versionDisabled: 'disabled',
      });
      expect(ownVersions(world).map((v) => v.enabled)).toEqual([false]);
    });

    it("never waits on, nor withdraws, another run's pending create", async () => {
      const world = new FakeWorld({ propagationMs: 0, readLagMs: 0, pendingReportsTags: true });
      await world.ports().certificates.beginCreate(CERTIFICATE, policy, { [RUN_ID_TAG]: OTHER });
      await expect(withdrawAdditions(world.ports(), base, step())).resolves.toEqual({
        keyRemoved: 'none',
        versionDisabled: 'none',
      });
      expect(world.calls).not.toContain('certificates.pollCreate');
      expect(world.calls).not.toContain('certificates.setVersionEnabled');
    });

    it("leaves the version of a create it adopted while pending that turned out to be another run's", async () => {
      const world = new FakeWorld({ propagationMs: 0, readLagMs: 0 });
      // Adopted: the pending create showed no tag, and this run took it for its own (awaitCertificate then refuses).
      const operation = await world.ports().certificates.beginCreate(CERTIFICATE, policy, { [RUN_ID_TAG]: OTHER });
      await expect(withdrawAdditions(world.ports(), { ...base, operation }, step())).resolves.toEqual({
        keyRemoved: 'none',
        versionDisabled: 'none',
      });
      const theirs = world.allVersions().filter((v) => v.tags[RUN_ID_TAG] === OTHER);
      expect(theirs.map((v) => v.enabled)).toEqual([true]);
      expect(world.calls).not.toContain('certificates.setVersionEnabled');
    });

    it('fails retryable, naming the create, while it is still pending past the create timeout', async () => {
      const { world, operation } = await pendingThenSuperseded({ createDelayMs: 24 * 3_600_000 });
      await expect(withdrawAdditions(world.ports(), { ...base, operation }, step())).rejects.toMatchObject({
        detail: { code: 'timeout', retryable: true, message: expect.stringContaining('still pending') as unknown },
      });
      expect(world.calls).not.toContain('certificates.setVersionEnabled');
    });
  });
});

/**
 * The power-pages steps on their own against the fake world: detection wants a later-ending key, verification wants
 * several healthy answers in a row, and retirement refuses whenever the key it would remove might be the site's.
 */
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../../../src/adapters/ports.js';
import type { RetireInput } from '../../../../src/machines/rotation-types.js';
import { detectPlatformKey } from '../../../../src/runs/steps/detect-platform-key.js';
import { retireOldKey } from '../../../../src/runs/steps/retire-old-key.js';
import { verifyNewKey } from '../../../../src/runs/steps/verify-new-key.js';
import { checkSiteI1 } from '../../../fakes/invariants.js';
import { APP_ID, FakeWorld } from '../../../fakes/world.js';

const step = { signal: new AbortController().signal, rerun: false };
const site = { environmentId: 'env-1', websiteId: 'site-1' };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return err instanceof AdapterError ? err.detail.code : String(err);
  }
}

function afterUpdateKey(opts: { restartMs?: number } = {}) {
  const world = new FakeWorld({ readLagMs: 0 });
  const old = world.appKeys()[0]!;
  const platform = world.platformUpdateKey(opts);
  const input: RetireInput = {
    kind: 'power-pages',
    appId: APP_ID,
    oldKeyId: old.keyId,
    oldThumbprint: old.thumbprint,
    newKeyId: platform.keyId,
    site,
  };
  return { world, old, platform, input };
}

describe('detectPlatformKey', () => {
  it('finds only a new key that outlasts the old one, and reports the key set for the diff', async () => {
    const world = new FakeWorld({ readLagMs: 0 });
    const old = world.appKeys()[0]!;
    const input = {
      appId: APP_ID,
      observedKeyIds: [old.keyId],
      oldThumbprint: old.thumbprint,
      oldExpiresOn: old.endDateTime,
    };
    expect(await detectPlatformKey(world.ports(), input, step)).toEqual({ status: 'notYet' });

    const platform = world.platformUpdateKey();
    const found = await detectPlatformKey(world.ports(), input, step);
    expect(found).toMatchObject({ status: 'found', keyId: platform.keyId, thumbprint: platform.thumbprint });
    expect(found.status === 'found' && found.keySet.map((k) => k.keyId)).toEqual([old.keyId, platform.keyId]);

    // A key that ends no later than the old one is not the platform's renewal.
    const later = { ...input, oldExpiresOn: new Date(Date.parse(platform.endDateTime) + 1).toISOString() };
    expect(await detectPlatformKey(world.ports(), later, step)).toEqual({ status: 'notYet' });
  });
});

describe('verifyNewKey (power-pages)', () => {
  it('needs several healthy answers in a row, spaced on the clock', async () => {
    const { world } = afterUpdateKey();
    const input = { kind: 'power-pages' as const, appId: APP_ID, newKey: { thumbprint: '', secretId: '' }, site };
    const result = await verifyNewKey(world.ports({ siteHealthyChecks: 3, siteCheckMs: 5_000 }), input, step);
    expect(result).toEqual({ siteHealthy: true, siteChecks: 3 });
    expect(world.calls.filter((c) => c === 'sites.siteHealthy')).toHaveLength(3);
    expect(world.clock.sleeps).toEqual([5_000, 5_000]);
  });

  it('a site still restarting is a retryable siteUnhealthy naming its status', async () => {
    const { world } = afterUpdateKey({ restartMs: 60_000 });
    const input = { kind: 'power-pages' as const, appId: APP_ID, newKey: { thumbprint: '', secretId: '' }, site };
    const error = await verifyNewKey(world.ports(), input, step).catch((e: AdapterError) => e.detail);
    expect(error).toMatchObject({ code: 'siteUnhealthy', retryable: true });
    expect(error && 'message' in error ? error.message : '').toContain('restarting');
  });
});

describe('retireOldKey (power-pages)', () => {
  it('PATCHes the old key away, keeps the rest, and reports the diff', async () => {
    const { world, old, platform, input } = afterUpdateKey();
    const result = await retireOldKey(world.ports(), input, step);
    expect(result).toEqual({
      keyRemoved: 'removed',
      method: 'patch',
      versionDisabled: 'none',
      diff: { removed: [old.thumbprint], kept: [platform.thumbprint] },
    });
    expect(world.appKeys().map((k) => k.keyId)).toEqual([platform.keyId]);
    expect(checkSiteI1(world)).toEqual([]);
  });

  it('is noChange when the old key is already gone (a re-run, or the platform removed it)', async () => {
    const { world, input } = afterUpdateKey();
    await retireOldKey(world.ports(), input, step);
    const again = await retireOldKey(world.ports(), input, { ...step, rerun: true });
    expect(again.keyRemoved).toBe('alreadyGone');
    expect(world.calls.filter((c) => c === 'apps.patchKeyCredentials')).toHaveLength(1);
  });

  it('refuses while the site is unhealthy (retryable), and writes nothing', async () => {
    const { world, input } = afterUpdateKey();
    world.siteDown = true;
    expect(await codeOf(retireOldKey(world.ports(), input, step))).toBe('siteUnhealthy');
    expect(world.calls).not.toContain('apps.patchKeyCredentials');
  });

  it('refuses without the platform key on the app, or when the key to remove outlasts it', async () => {
    const { world, old, platform, input } = afterUpdateKey();
    expect(await codeOf(retireOldKey(world.ports(), { ...input, newKeyId: 'not-there' }, step))).toBe('newKeyMissing');
    expect(await codeOf(retireOldKey(world.ports(), { ...input, newKeyId: old.keyId }, step))).toBe('newKeyMissing');
    // Swapped by mistake: removing the platform's key would take the site down.
    const swapped = { ...input, oldKeyId: platform.keyId, oldThumbprint: platform.thumbprint, newKeyId: old.keyId };
    expect(await codeOf(retireOldKey(world.ports(), swapped, step))).toBe('wouldRemoveNewestKey');
    expect(world.calls).not.toContain('apps.patchKeyCredentials');
    expect(world.appKeys()).toHaveLength(2);
  });
});

describe('checkSiteI1', () => {
  it('flags certrotate removing the key the site uses', async () => {
    const { world, platform } = afterUpdateKey();
    await world.ports().apps.patchKeyCredentials(APP_ID, { removeKeyIds: [platform.keyId] });
    expect(checkSiteI1(world).join('\n')).toContain(`removed the site's key ${platform.thumbprint}`);
  });
});

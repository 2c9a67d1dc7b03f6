/**
 * The preflight verdict: each named condition of the chain, the order they are tried in, and the machine's preflight
 * ending where the verdict says (its guards are the chain's links).
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import type { KeyCredential } from '../../../src/adapters/ports.js';
import { PREFLIGHT_CHAIN, preflightVerdict, standingOf, SUMMARY_MAX } from '../../../src/machines/preflight.js';
import { rotationMachine } from '../../../src/machines/rotation.js';
import type { ObserveInput, RotationInput, StepDone, TargetObservation } from '../../../src/machines/rotation-types.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function credential(thumbprint: string, daysLeft: number, type = 'AsymmetricX509Cert'): KeyCredential {
  return {
    keyId: `kid-${thumbprint}`,
    thumbprint,
    startDateTime: iso(NOW - 300 * DAY),
    endDateTime: iso(NOW + daysLeft * DAY),
    usage: 'Verify',
    type,
  };
}

const keyvault: RotationInput = {
  runId: 'run-preflight',
  target: 'contoso-api',
  kind: 'keyvault',
  appId: 'app-1',
  keyVault: {
    certificate: 'contoso-s2s',
    policy: {
      subject: 'CN=x',
      validityMonths: 24,
      keyType: 'RSA',
      keySize: 2048,
      contentType: 'application/x-pem-file',
    },
  },
  rotateBeforeMs: 60 * DAY,
  verifyTimeoutMs: 600_000,
  retireAfterMs: 0,
};

const powerPages: RotationInput = {
  ...keyvault,
  target: 'contoso-portal',
  kind: 'power-pages',
  keyVault: undefined,
  site: { environmentId: 'env-1', websiteId: 'site-1' },
};

/** A keyvault target whose server uses key AAAA, registered on the app and held by the vault. */
function observation(options: { daysLeft?: number; server?: string; keys?: KeyCredential[] } = {}): TargetObservation {
  const daysLeft = options.daysLeft ?? 20;
  return {
    now: NOW,
    app: {
      objectId: 'obj-1',
      appId: 'app-1',
      keyCredentials: options.keys ?? [credential('AAAA', daysLeft)],
      hasFederatedCredentials: false,
    },
    versions: [
      {
        version: 'v1',
        thumbprint: 'AAAA',
        secretId: 'https://kv/secrets/contoso-s2s/v1',
        enabled: true,
        createdOn: iso(NOW - 300 * DAY),
        notBefore: iso(NOW - 300 * DAY),
        expiresOn: iso(NOW + daysLeft * DAY),
        tags: {},
      },
    ],
    server: { manual: false, thumbprint: options.server ?? 'AAAA' },
  };
}

/** A power-pages site: the platform's key (or none), the federated flag, and whether certrotate may PATCH the app. */
function site(options: { keys: KeyCredential[]; federated?: boolean; canWrite?: boolean }): TargetObservation {
  return {
    now: NOW,
    app: {
      objectId: 'obj-2',
      appId: 'app-1',
      keyCredentials: options.keys,
      hasFederatedCredentials: !!options.federated,
    },
    versions: [],
    server: { manual: false },
    site: { status: 'Running', healthy: true },
    ...(options.canWrite === undefined
      ? {}
      : { ownership: { owner: options.canWrite, canWrite: options.canWrite, detail: 'not an owner of the app' } }),
  };
}

describe('the preflight chain', () => {
  it('tries its conditions in this order', () => {
    expect(PREFLIGHT_CHAIN.map((c) => c.reason)).toEqual([
      'UsesPlatformIdentity',
      'NoUsableCurrentKey',
      'RotationNotDue',
      'CannotRetireOldKey',
    ]);
  });

  it('UsesPlatformIdentity: a site on a federated credential with no certificate has nothing to rotate', () => {
    expect(preflightVerdict(site({ keys: [], federated: true }), powerPages)).toEqual({
      verdict: 'noChange',
      reason: 'UsesPlatformIdentity',
      message: 'the site uses the platform-managed identity (federated): nothing to rotate',
    });
  });

  it('UsesPlatformIdentity holds for a site whose only key credential is no certificate (scan called it noKey)', () => {
    const decision = preflightVerdict(
      site({ keys: [credential('CCCC', 300, 'Symmetric')], federated: true }),
      powerPages,
    );
    expect(decision.reason).toBe('UsesPlatformIdentity');
  });

  it('NoUsableCurrentKey: the server uses a key the app does not have', () => {
    const decision = preflightVerdict(observation({ server: 'BBBB' }), keyvault);
    expect(decision).toMatchObject({ verdict: 'cannotRotate', reason: 'NoUsableCurrentKey' });
    expect(decision.message).toContain('the server uses key BBBB, which is not registered on app app-1');
  });

  it('NoUsableCurrentKey: a site with neither a certificate nor a federated credential', () => {
    expect(preflightVerdict(site({ keys: [] }), powerPages)).toMatchObject({
      verdict: 'cannotRotate',
      reason: 'NoUsableCurrentKey',
      message: 'app app-1 has no certificate credential',
    });
  });

  it('RotationNotDue: the key lasts longer than rotateBefore', () => {
    const decision = preflightVerdict(observation({ daysLeft: 400 }), keyvault);
    expect(decision).toMatchObject({ verdict: 'noChange', reason: 'RotationNotDue', key: { thumbprint: 'AAAA' } });
    expect(decision.message).toBe(`key AAAA expires ${iso(NOW + 400 * DAY)} (400 days left); not due before 60d`);
  });

  it('CannotRetireOldKey: a due site whose app certrotate may not change', () => {
    const decision = preflightVerdict(site({ keys: [credential('DDDD', 20)], canWrite: false }), powerPages);
    expect(decision).toMatchObject({
      verdict: 'cannotRotate',
      reason: 'CannotRetireOldKey',
      key: { thumbprint: 'DDDD' },
    });
    expect(decision.message).toContain('may not change app app-1 (not an owner of the app)');
  });

  it('RotationDue when no condition holds, and when force overrides "not due"', () => {
    expect(preflightVerdict(observation(), keyvault)).toMatchObject({
      verdict: 'rotate',
      reason: 'RotationDue',
      key: { thumbprint: 'AAAA' },
      message: `key AAAA expires ${iso(NOW + 20 * DAY)} (20 days left): due within 60d`,
    });
    expect(preflightVerdict(observation({ daysLeft: 400 }), { ...keyvault, force: true })).toMatchObject({
      verdict: 'rotate',
      reason: 'RotationDue',
      message: `key AAAA expires ${iso(NOW + 400 * DAY)}: rotation forced`,
    });
    expect(preflightVerdict(site({ keys: [credential('DDDD', 20)], canWrite: true }), powerPages).reason).toBe(
      'RotationDue',
    );
  });

  it('order: a platform identity is never reported as a missing key', () => {
    // The selection of a current key fails for this site too; the earlier condition decides.
    expect(preflightVerdict(site({ keys: [], federated: true, canWrite: false }), powerPages).reason).toBe(
      'UsesPlatformIdentity',
    );
  });

  it('order: a key that is not due is left alone even where it could not be retired', () => {
    expect(preflightVerdict(site({ keys: [credential('DDDD', 400)], canWrite: false }), powerPages).reason).toBe(
      'RotationNotDue',
    );
  });

  it('order: the platform identity is a power-pages condition; a keyvault app without a certificate has no key', () => {
    const federatedApp = {
      ...observation(),
      app: { ...observation().app, keyCredentials: [], hasFederatedCredentials: true },
    };
    expect(preflightVerdict(federatedApp, keyvault).reason).toBe('NoUsableCurrentKey');
  });
});

describe("the machine's preflight follows the verdict", () => {
  async function preflightEnd(input: RotationInput, observed: TargetObservation) {
    const machine = rotationMachine.provide({
      actors: {
        observeTarget: fromPromise<StepDone<TargetObservation>, ObserveInput>(async () => ({
          result: observed,
          startedAt: NOW,
          endedAt: NOW,
        })),
      },
    });
    const actor = createActor(machine, { input }).start();
    const snapshot = await waitFor(actor, (s) => !s.matches('preflight'));
    actor.stop();
    return { state: snapshot.value, failure: snapshot.context.failure?.message };
  }

  it('ends each verdict where the verdict says', async () => {
    expect(await preflightEnd(powerPages, site({ keys: [], federated: true }))).toMatchObject({ state: 'noChange' });
    expect(await preflightEnd(keyvault, observation({ server: 'BBBB' }))).toMatchObject({
      state: 'failed',
      failure: expect.stringContaining('cannot rotate: the server uses key BBBB'),
    });
    expect(await preflightEnd(keyvault, observation({ daysLeft: 400 }))).toMatchObject({ state: 'noChange' });
    expect(await preflightEnd(powerPages, site({ keys: [credential('DDDD', 20)], canWrite: false }))).toMatchObject({
      state: 'failed',
      failure: expect.stringContaining("cannot rotate: certrotate's identity may not change app app-1"),
    });
    expect(await preflightEnd(keyvault, observation())).toMatchObject({ state: { generating: 'confirming' } });
    expect(await preflightEnd(powerPages, site({ keys: [credential('DDDD', 20)], canWrite: true }))).toMatchObject({
      state: { detectingPlatformKey: 'confirming' },
    });
  });
});

describe('standing: what scan and plan report and exit with, from the one verdict', () => {
  it('a server key the app does not have is broken, with a short summary for a table cell', () => {
    const decision = preflightVerdict(observation({ server: 'B'.repeat(40) }), keyvault);
    expect(standingOf(decision)).toBe('broken');
    expect(decision).toMatchObject({ summary: "the server's key BBBBBBBB… is not on the app" });
  });

  it('a site with no certificate credential is broken; a due site certrotate may not change is blocked', () => {
    expect(standingOf(preflightVerdict(site({ keys: [] }), powerPages))).toBe('broken');
    const blocked = preflightVerdict(site({ keys: [credential('DDDD', 20)], canWrite: false }), powerPages);
    expect(standingOf(blocked)).toBe('blocked');
    expect('summary' in blocked && blocked.summary.length).toBeLessThanOrEqual(SUMMARY_MAX);
  });

  it('a due key is pending; a key not due and a federated site are settled', () => {
    expect(standingOf(preflightVerdict(observation(), keyvault))).toBe('pending');
    expect(standingOf(preflightVerdict(observation({ daysLeft: 400 }), keyvault))).toBe('settled');
    expect(standingOf(preflightVerdict(site({ keys: [], federated: true }), powerPages))).toBe('settled');
  });
});

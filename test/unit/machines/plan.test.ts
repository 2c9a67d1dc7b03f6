import { describe, expect, it } from 'vitest';
import { canonicalJson, factChanges, planFacts, planRotation } from '../../../src/machines/plan.js';
import type { TargetObservation } from '../../../src/machines/rotation-types.js';
import { STEP_NAMES } from '../../../src/machines/steps.js';
import { buildPlan, fingerprintOf, planStaleness } from '../../../src/runs/plan-fingerprint.js';
import { observeTarget } from '../../../src/runs/steps/observe-target.js';
import { rotationInput } from '../../fakes/harness.js';
import { FakeWorld, type WorldOptions } from '../../fakes/world.js';

const DAY = 86_400_000;
const step = { signal: new AbortController().signal, rerun: false };

async function observe(world: FakeWorld): Promise<TargetObservation> {
  const input = rotationInput();
  return observeTarget(
    world.ports(),
    { runId: input.runId, kind: 'keyvault', appId: input.appId, certificate: input.keyVault!.certificate },
    step,
  );
}

async function planFor(options: WorldOptions = {}) {
  const world = new FakeWorld(options);
  const observation = await observe(world);
  return { world, observation, plan: buildPlan(observation, rotationInput()) };
}

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('plan', () => {
  it('lists the rotation steps of a due keyvault target, terraform-style', async () => {
    const { world, plan } = await planFor();
    expect(plan).toMatchObject({ formatVersion: 1, target: 'contoso-api', kind: 'keyvault' });
    expect(plan.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.steps.map((s) => [s.name, s.action])).toEqual([
      ['generateCertificate', 'create'],
      ['attachKeyCredential', 'create'],
      ['awaitPropagation', 'noChange'],
      ['installServerKey', 'modify'],
      ['verifyNewKey', 'noChange'],
      ['retireOldKey', 'delete'],
    ]);
    const old = world.seededVersion.thumbprint;
    expect(plan.steps[1]!.summary).toContain(`addKey, the proof signed by key ${old}`);
    expect(plan.steps[5]!.before).toMatchObject({ thumbprint: old });
    // The old version is disabled by retireOldKey, as the run does it (issue 10 defect 5: no step a run never shows).
    expect(plan.steps[5]!.before).toMatchObject({ version: world.seededVersion.version, enabled: true });
    expect(plan.steps[5]!.after).toEqual({ version: world.seededVersion.version, enabled: false });
    expect(plan.steps[5]!.summary).toMatch(
      new RegExp(`then disable its Key Vault version ${world.seededVersion.version} of \\S+ \\(kept for audit\\)$`),
    );
  });

  it('lists only steps a run shows (the step catalogue), besides the person pressing Update key', async () => {
    const { plan } = await planFor();
    const portalInput = rotationInput({
      kind: 'power-pages',
      keyVault: undefined,
      dataverseUrl: undefined,
      site: { environmentId: 'env-1', websiteId: 'site-1' },
      resumeTimeoutMs: 30 * 60_000,
    });
    const portal = buildPlan(await observe(new FakeWorld()), portalInput);
    expect(portal.steps.map((s) => s.name)).toContain('detectPlatformKey');
    for (const step of [...plan.steps, ...portal.steps]) {
      if (step.action !== 'manual') expect(STEP_NAMES, step.name).toContain(step.name);
    }
  });

  it('observing for a plan sends no mutating request (I6)', async () => {
    const world = new FakeWorld();
    const before = world.history.length;
    buildPlan(await observe(world), rotationInput());
    expect(world.calls.length).toBeGreaterThan(2);
    expect(world.calls.every((c) => /\.(get|list|find|currentKey)/.test(c))).toBe(true);
    expect(world.history).toHaveLength(before);
  });

  it('says noChange when the key is not due', async () => {
    const { plan } = await planFor({ daysLeft: 400 });
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]).toMatchObject({ name: 'rotate', action: 'noChange' });
    expect(plan.steps[0]!.summary).toMatch(/\(39\d days left\); not due before 60d$/);
  });

  it('marks the install manual for a manual server', async () => {
    const { plan } = await planFor({ serverManual: true });
    expect(plan.steps.find((s) => s.name === 'installServerKey')?.action).toBe('manual');
  });

  it('refuses to plan from a broken state: the server uses a key the app does not know', async () => {
    const { observation } = await planFor();
    const broken = { ...observation, server: { manual: false, thumbprint: 'AB'.repeat(20) } };
    const { plan } = planRotation(broken, rotationInput());
    expect(plan.steps).toEqual([expect.objectContaining({ name: 'rotate', action: 'manual' })]);
    expect(plan.steps[0]!.summary).toMatch(/not registered on app/);
  });

  it('plans the power-pages flow around the admin center button', async () => {
    const { observation } = await planFor();
    const input = rotationInput({
      kind: 'power-pages',
      keyVault: undefined,
      site: { environmentId: 'e', websiteId: 'w' },
    });
    const { plan } = planRotation({ ...observation, versions: [], server: { manual: false } }, input);
    expect(plan.steps.map((s) => [s.name, s.action])).toEqual([
      ['updateKey', 'manual'],
      ['detectPlatformKey', 'noChange'],
      ['verifyNewKey', 'noChange'],
      ['retireOldKey', 'delete'],
    ]);
  });
});

describe('plan fingerprint', () => {
  it('is the same for the same facts, whatever their order or the time of reading', async () => {
    const { observation, plan } = await planFor();
    const reordered: TargetObservation = {
      ...observation,
      now: observation.now + 3 * DAY,
      app: { ...observation.app, keyCredentials: [...observation.app.keyCredentials].reverse() },
      versions: [...observation.versions].reverse(),
    };
    expect(buildPlan(reordered, rotationInput()).fingerprint).toBe(plan.fingerprint);
    expect(planStaleness(plan, reordered, rotationInput())).toBeUndefined();
  });

  it('changes when the world changes under a saved plan, so rotate --plan refuses it', async () => {
    const { world, plan } = await planFor();
    world.operatorInstalls('CD'.repeat(20));
    const after = await observe(world);
    expect(planStaleness(plan, after, rotationInput())).toMatch(/stale/);
  });

  it('changes when a key that was not due becomes due', async () => {
    const { observation, plan } = await planFor({ daysLeft: 61 });
    expect(plan.steps[0]!.action).toBe('noChange');
    const later = { ...observation, now: observation.now + 2 * DAY };
    expect(planStaleness(plan, later, rotationInput())).toMatch(/stale/);
  });

  it('refuses a plan made for another target', async () => {
    const { observation, plan } = await planFor();
    expect(planStaleness(plan, observation, rotationInput({ target: 'other' }))).toMatch(/for target contoso-api/);
  });

  it('is sha256 of the canonical observation', async () => {
    const { observation, plan } = await planFor();
    expect(plan.fingerprint).toBe(fingerprintOf(planRotation(observation, rotationInput()).canonical));
    expect(fingerprintOf('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('a plan carries its options and its facts', () => {
  it('records force, and a forced plan is not stale when applied forced', async () => {
    const { observation } = await planFor({ daysLeft: 200 });
    const forced = buildPlan(observation, rotationInput({ force: true }));
    expect(forced.options).toEqual({ force: true });
    expect(forced.steps.map((s) => s.action)).toContain('create');
    expect(planStaleness(forced, observation, rotationInput({ force: true }))).toBeUndefined();
    // Applied without the force it was made with, the facts differ: the option is named, not a hash.
    expect(planStaleness(forced, observation, rotationInput())).toMatch(
      /the --force option changed from true to false/,
    );
  });

  it('saves the facts its fingerprint is taken of', async () => {
    const { observation, plan } = await planFor();
    expect(plan.fingerprint).toBe(fingerprintOf(canonicalJson(plan.facts)));
    expect(plan.facts).toEqual(planFacts(observation, rotationInput()));
  });

  it('names the current key that changed, and the credentials added and removed', async () => {
    const { world, plan } = await planFor();
    world.operatorInstalls('CD'.repeat(20));
    const stale = planStaleness(plan, await observe(world), rotationInput())!;
    expect(stale).toMatch(/^the plan is stale: /);
    expect(stale).toMatch(/the server's key changed from [0-9A-F]{8}… to CDCDCDCD…/);
  });

  it('factChanges words each changed fact, and nothing for equal facts', () => {
    const before = { currentKey: 'AB12'.repeat(10), due: false, app: { keyCredentials: [{ thumbprint: 'X' }] } };
    const after = {
      currentKey: 'CD34'.repeat(10),
      due: true,
      app: { keyCredentials: [{ thumbprint: 'X' }, { thumbprint: 'Y' }] },
    };
    expect(factChanges(before, before)).toEqual([]);
    expect(factChanges(before, after)).toEqual([
      "the app's current key changed from AB12AB12… to CD34CD34…",
      'whether the key is due changed from false to true',
      "the app's key credentials changed (added Y)",
    ]);
  });

  it('says when the saved facts were edited and no longer match the fingerprint', async () => {
    const { observation, plan } = await planFor();
    const edited = { ...plan, fingerprint: 'sha256:00', facts: { ...plan.facts, due: false } };
    expect(planStaleness(edited, observation, rotationInput())).toMatch(/the plan file was altered/);
  });
});

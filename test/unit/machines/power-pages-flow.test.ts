/**
 * The power-pages flow of the rotation machine against the fake world, on the simulated clock: the guided live wait,
 * the unattended park and resume timeout, the platform-managed identity, preflight's ownership check, a site that
 * stays unhealthy, and rollback refused (the platform's key is the site's). I1 for the site holds throughout.
 */
import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../../src/adapters/ports.js';
import { PLATFORM_KEY_POLL_MS } from '../../../src/machines/rotation.js';
import type { RotationInput } from '../../../src/machines/rotation-types.js';
import { driveRotation } from '../../../src/runs/driver.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { checkSiteI1 } from '../../fakes/invariants.js';
import { FakeWorld } from '../../fakes/world.js';

const MINUTE = 60_000;

function portalInput(overrides: Partial<RotationInput> = {}): RotationInput {
  return rotationInput({
    target: 'contoso-portal',
    kind: 'power-pages',
    keyVault: undefined,
    dataverseUrl: undefined,
    site: { environmentId: 'env-1', websiteId: 'site-1' },
    resumeTimeoutMs: 30 * MINUTE,
    ...overrides,
  });
}

describe('power-pages flow', () => {
  it('guided: shows the admin center steps, waits by itself for the key and the healthy site, confirms the diff', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    const asked: { step: string; summary: string }[] = [];
    const journal: Omit<JournalEntry, 'runId' | 'target'>[] = [];
    let looks = 0;
    const result = await driveRotation({
      ports: world.ports(),
      input: portalInput(),
      confirm: async (step, summary) => {
        asked.push({ step, summary });
        return true;
      },
      onSnapshot: async () => {},
      onJournal: (entry) => {
        journal.push(entry);
        // The admin presses Update key while certrotate is already waiting (after its second look); the site
        // restarts for 7 minutes. A look that finds no key yet is journaled as `waiting`.
        if (entry.step === 'detectPlatformKey' && entry.event === 'waiting' && ++looks === 2) {
          world.platformUpdateKey({ restartMs: 7 * MINUTE });
        }
      },
    });

    expect(result).toMatchObject({ outcome: 'succeeded', status: 'final', oldThumbprint: old });
    const platformKey = world.appKeys()[0]!;
    expect(world.appKeys()).toHaveLength(1);
    expect(result.newThumbprint).toBe(platformKey.thumbprint);
    expect(world.siteThumbprint).toBe(platformKey.thumbprint);

    expect(asked.map((a) => a.step)).toEqual(['detectingPlatformKey', 'retiring']);
    const instructions = asked[0]!.summary;
    expect(instructions).toContain('Manage → Power Pages → site "contoso-portal" in environment "contoso-prod"');
    expect(instructions).toContain('Update key');
    expect(instructions).toContain('5–15 minutes');
    expect(instructions).toContain('Retry Authentication Key Update');
    const diff = asked[1]!.summary;
    expect(diff).toContain(`- ${old}`);
    expect(diff).toContain(`= ${platformKey.thumbprint}`);
    expect(diff).toContain('new site key');

    // The wait ended by itself: several looks at the app, then verification retried through the restart.
    expect(journal.filter((e) => e.step === 'detectPlatformKey' && e.event === 'started').length).toBeGreaterThan(2);
    expect(world.clock.sleeps).toContain(PLATFORM_KEY_POLL_MS);
    expect(journal.some((e) => e.step === 'verifyNewKey' && e.event === 'retrying')).toBe(true);
    expect(world.history.filter((e) => e.kind === 'keyRemoved')).toMatchObject([{ thumbprint: old, via: 'patch' }]);
    expect(checkSiteI1(world)).toEqual([]);
  });

  it('unattended: parks at once; a resume before Update key polls for resumeTimeout and parks again', async () => {
    const world = new FakeWorld();
    const first = await driveInWorld(world, { input: portalInput({ resumeTimeoutMs: 5 * MINUTE }) });
    expect(first.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    expect(first.result.park).toMatchObject({ reason: 'platformKeyUpdate', resumeTo: 'detectingPlatformKey' });
    expect(first.result.park?.message).toContain('waits up to 5 min');
    expect(world.calls.filter((c) => c === 'apps.getApp')).toHaveLength(1);

    const before = world.clock.now();
    const again = await driveInWorld(world, { snapshot: first.record.snapshot, resumeEvent: true });
    expect(again.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    expect(world.clock.now() - before).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(world.clock.now() - before).toBeLessThan(5 * MINUTE + PLATFORM_KEY_POLL_MS + MINUTE);
    const looks = again.record.journal.filter((e) => e.step === 'detectPlatformKey' && e.event === 'started');
    expect(looks.length).toBeGreaterThanOrEqual((5 * MINUTE) / PLATFORM_KEY_POLL_MS);
    expect(world.history.filter((e) => e.kind === 'keyRemoved' || e.kind === 'keyAdded')).toEqual([]);

    // A later resume waits its own full resumeTimeout, and finishes once the key is there.
    world.platformUpdateKey({ restartMs: 2 * MINUTE });
    world.clock.advance(MINUTE);
    const done = await driveInWorld(world, { snapshot: again.record.snapshot, resumeEvent: true });
    expect(done.result.outcome).toBe('succeeded');
    expect(checkSiteI1(world)).toEqual([]);
  });

  it('a site on the platform-managed identity is noChange at preflight', async () => {
    const world = new FakeWorld();
    world.useFederatedIdentity();
    const { result } = await driveInWorld(world, { input: portalInput() });
    expect(result).toMatchObject({ outcome: 'noChange', status: 'final' });
    expect(result.note).toContain('platform-managed identity');
    expect(world.calls).not.toContain('ownership.callerAccess');
  });

  it('refuses at preflight, before anyone presses Update key, when certrotate could not remove the old key', async () => {
    const world = new FakeWorld();
    world.access = { owner: false, canWrite: false, detail: 'not an owner of the app' };
    const { result } = await driveInWorld(world, { input: portalInput() });
    expect(result).toMatchObject({ outcome: 'failed', status: 'final' });
    expect(result.failure?.message).toContain('not an owner of the app');
    expect(result.failure?.message).toContain('make it an owner');
    expect(result.steps.map((s) => s.name)).toEqual(['observeTarget']);
  });

  it('a site that stays unhealthy after Update key parks with the reason; the old key stays until it is healthy', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    const input = portalInput({ verifyTimeoutMs: 2 * MINUTE, resumeTimeoutMs: 3 * MINUTE });
    const first = await driveInWorld(world, { input });
    world.platformUpdateKey();
    world.siteDown = true; // the update failed: the admin center would offer Retry
    world.clock.advance(MINUTE);
    const stuck = await driveInWorld(world, { snapshot: first.record.snapshot, resumeEvent: true });
    expect(stuck.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    expect(stuck.result.park).toMatchObject({ reason: 'siteUnhealthy', resumeTo: 'verifying' });
    expect(stuck.result.park?.message).toContain(`old key ${old} stays`);
    expect(stuck.result.park?.message).toContain('siteUnhealthy');
    expect(world.appKeys().map((k) => k.thumbprint)).toContain(old);
    expect(world.history.filter((e) => e.kind === 'keyRemoved')).toEqual([]);

    // Rollback is refused: the platform's key is the site's, and withdrawing it would take the site down.
    const rollback = await driveInWorld(world, { snapshot: stuck.record.snapshot, rollbackEvent: true });
    expect(rollback.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    expect(rollback.result.park?.message).toMatch(/^Rollback refused: Power Pages made the new key/);
    expect(rollback.result.park).toMatchObject({ reason: 'siteUnhealthy', resumeTo: 'verifying' });
    expect(world.appKeys()).toHaveLength(2);

    world.siteDown = false; // Retry Authentication Key Update worked
    const done = await driveInWorld(world, { snapshot: rollback.record.snapshot, resumeEvent: true });
    expect(done.result.outcome).toBe('succeeded');
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([world.siteThumbprint]);
    expect(checkSiteI1(world)).toEqual([]);
  });

  it('a platform that removes the old key itself leaves retirement a noChange', async () => {
    const world = new FakeWorld();
    const first = await driveInWorld(world, { input: portalInput() });
    world.platformUpdateKey({ removesOldKey: true });
    world.clock.advance(MINUTE);
    const done = await driveInWorld(world, { snapshot: first.record.snapshot, resumeEvent: true });
    expect(done.result.outcome).toBe('succeeded');
    const retire = done.result.steps.find((s) => s.name === 'retireOldKey')!;
    expect(retire).toMatchObject({ status: 'skipped' });
    expect(retire.detail).toMatch(/^noChange/);
    expect(world.calls).not.toContain('apps.patchKeyCredentials');
  });
});

describe('power-pages plan', () => {
  it('says the rotation cannot go ahead when certrotate could not remove the old key', async () => {
    const { observeTarget } = await import('../../../src/runs/steps/observe-target.js');
    const { planRotation } = await import('../../../src/machines/plan.js');
    const world = new FakeWorld();
    const input = portalInput();
    const observe = () =>
      observeTarget(
        world.ports(),
        { runId: 'p', kind: 'power-pages', appId: input.appId, site: input.site! },
        {
          signal: new AbortController().signal,
          rerun: false,
        },
      );
    const allowed = planRotation(await observe(), input);
    expect(allowed.plan.steps.map((s) => s.name)).toEqual([
      'updateKey',
      'detectPlatformKey',
      'verifyNewKey',
      'retireOldKey',
    ]);

    world.access = { owner: false, canWrite: false, detail: 'not an owner of the app' };
    const blocked = planRotation(await observe(), input);
    expect(blocked.plan.steps).toMatchObject([{ name: 'rotate', action: 'manual' }]);
    expect(blocked.plan.steps[0]!.summary).toContain('not an owner of the app');
    expect(blocked.canonical).not.toBe(allowed.canonical);
  });
});

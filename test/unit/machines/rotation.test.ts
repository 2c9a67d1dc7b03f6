import { describe, expect, it } from 'vitest';
import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import { backoffDelay, DEFAULT_RETRY_POLICY } from '../../../src/machines/rotation-backoff.js';
import { ROTATION_MACHINE_VERSION, rotationMachine } from '../../../src/machines/rotation.js';
import { checkInvariants } from '../../fakes/invariants.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

const HOUR = 3_600_000;

describe('rotation machine', () => {
  it('exports a version string and titles every state', () => {
    expect(ROTATION_MACHINE_VERSION).toMatch(/^rotation\/\d+$/);
    const nodes = (node: DirectedGraphNode): DirectedGraphNode[] => [node, ...node.children.flatMap(nodes)];
    const all = nodes(toDirectedGraph(rotationMachine)).filter((n) => n.id !== 'rotation');
    expect(all.length).toBeGreaterThan(30);
    const untitled = all.filter((n) => !(n.stateNode.meta as { title?: string } | undefined)?.title);
    expect(untitled.map((n) => n.id)).toEqual([]);
  });

  it('does nothing when the key is not due (noChange) and sends no mutating request', async () => {
    const world = new FakeWorld({ daysLeft: 400 });
    const { result } = await driveInWorld(world);
    expect(result).toMatchObject({
      outcome: 'noChange',
      status: 'final',
      oldThumbprint: world.seededVersion.thumbprint,
    });
    expect(result.note).toMatch(/not due/);
    expect(world.calls.every((c) => /\.(get|list|find|currentKey)/.test(c))).toBe(true);
  });

  it('fails with a message saying what to do when the server uses a key the app does not know', async () => {
    const world = new FakeWorld({ serverBroken: true });
    const { result } = await driveInWorld(world);
    expect(result.outcome).toBe('failed');
    expect(result.failure?.message).toMatch(/not registered on app .*fix the server or the app registration first/);
    expect(world.allVersions()).toHaveLength(1);
  });

  it('records the DESIGN §5 step records with ISO times and attempts', async () => {
    const world = new FakeWorld();
    const { result } = await driveInWorld(world);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ['observeTarget', 'succeeded'],
      ['generateCertificate', 'succeeded'],
      ['attachKeyCredential', 'succeeded'],
      ['awaitPropagation', 'succeeded'],
      ['installServerKey', 'succeeded'],
      ['verifyNewKey', 'succeeded'],
      ['retireOldKey', 'succeeded'],
    ]);
    for (const step of result.steps) {
      expect(Date.parse(step.startedAt)).toBeLessThanOrEqual(Date.parse(step.endedAt!));
      expect(step.attempts).toBeGreaterThanOrEqual(1);
    }
    // 45 s of propagation polled every 10 s.
    expect(result.steps.find((s) => s.name === 'awaitPropagation')?.attempts).toBe(6);
    expect(result.newThumbprint).toBe(world.allVersions()[1]!.thumbprint);
  });

  it('keeps secrets out of snapshots and journal (I4): no token, JSON only', async () => {
    const world = new FakeWorld();
    const { record } = await driveInWorld(world);
    const text = JSON.stringify({ snapshot: record.snapshot, journal: record.journal });
    expect(text).not.toMatch(/token-\d/);
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(JSON.parse(JSON.stringify(record.snapshot))).toEqual(record.snapshot);
  });

  it('guided mode: a decline parks the run, the record says declined, and nothing else changes', async () => {
    const world = new FakeWorld();
    const { result } = await driveInWorld(world, {
      input: rotationInput(),
      confirm: async (step) => step !== 'installing',
    });
    expect(result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked', state: 'awaitingOperator' });
    expect(result.park).toMatchObject({ reason: 'declined', resumeTo: 'installing' });
    expect(result.steps.at(-1)).toMatchObject({ name: 'installServerKey', status: 'declined' });
    expect(world.serverKey()).toBe(world.seededVersion.thumbprint);
    expect(world.appKeys()).toHaveLength(2);
  });

  it('a manual server parks for the operator, then converges on resume', async () => {
    const world = new FakeWorld({ serverManual: true });
    const first = await driveInWorld(world);
    expect(first.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    expect(first.result.park?.reason).toBe('manualInstall');
    const newKey = world.allVersions()[1]!;
    expect(first.result.park?.message).toContain(newKey.secretId);
    expect(first.record.journal.at(-1)).toMatchObject({ event: 'parked' });

    world.operatorInstalls(newKey.thumbprint);
    const second = await driveInWorld(world, { snapshot: first.record.snapshot, resumeEvent: true });
    expect(second.result.outcome).toBe('succeeded');
    expect(second.result.steps.find((s) => s.name === 'installServerKey')).toMatchObject({
      status: 'succeeded',
      detail: 'operatorConfirmed',
    });
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
  });

  it('a retirement grace period parks until it is over; an early resume stays parked', async () => {
    const world = new FakeWorld();
    const input = rotationInput({ retireAfterMs: 24 * HOUR });
    const first = await driveInWorld(world, { input });
    expect(first.result).toMatchObject({ outcome: 'awaitingRetirement', status: 'parked' });
    expect(world.appKeys()).toHaveLength(2);

    world.clock.advance(HOUR);
    const early = await driveInWorld(world, { snapshot: first.record.snapshot, resumeEvent: true });
    expect(early.result.outcome).toBe('awaitingRetirement');
    expect(world.appKeys()).toHaveLength(2);

    world.clock.advance(24 * HOUR);
    const late = await driveInWorld(world, { snapshot: early.record.snapshot, resumeEvent: true });
    expect(late.result.outcome).toBe('succeeded');
    expect(world.appKeys()).toHaveLength(1);
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
  });

  it('rollback of a parked run puts the old key back and withdraws the new one', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    const first = await driveInWorld(world, { input: rotationInput({ retireAfterMs: HOUR }) });
    expect(world.serverKey()).not.toBe(old);
    const back = await driveInWorld(world, { snapshot: first.record.snapshot, rollbackEvent: true });
    expect(back.result.outcome).toBe('rolledBack');
    expect(world.serverKey()).toBe(old);
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([old]);
    expect(world.allVersions().map((v) => v.enabled)).toEqual([true, false]);
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });

  it('keeps trying while Entra propagates, then rolls back at verifyTimeout without touching the server', async () => {
    const world = new FakeWorld({ newKeysNeverWork: true });
    const old = world.seededVersion.thumbprint;
    const start = world.clock.now();
    const { result } = await driveInWorld(world, { input: rotationInput({ verifyTimeoutMs: 5 * 60_000 }) });
    expect(result.outcome).toBe('rolledBack');
    const propagation = result.steps.find((s) => s.name === 'awaitPropagation')!;
    expect(propagation.status).toBe('failed');
    expect(propagation.attempts).toBeGreaterThan(20);
    expect(world.clock.now() - start).toBeGreaterThanOrEqual(5 * 60_000);
    expect(world.history.filter((e) => e.kind === 'serverKey')).toHaveLength(1);
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([old]);
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });

  it('power-pages: parks for Update key, finds the platform key, checks the site, retires the old key', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    const input = rotationInput({
      kind: 'power-pages',
      keyVault: undefined,
      site: { environmentId: 'e', websiteId: 'w' },
    });
    const first = await driveInWorld(world, { input });
    expect(first.result.park).toMatchObject({ reason: 'platformKeyUpdate', resumeTo: 'detectingPlatformKey' });

    const tooEarly = await driveInWorld(world, { snapshot: first.record.snapshot, resumeEvent: true });
    expect(tooEarly.result.outcome).toBe('awaitingOperator');

    const platformKey = world.platformUpdateKey();
    world.clock.advance(60_000); // the operator resumes a minute later, past the directory's read lag
    const done = await driveInWorld(world, { snapshot: tooEarly.record.snapshot, resumeEvent: true });
    expect(done.result).toMatchObject({
      outcome: 'succeeded',
      oldThumbprint: old,
      newThumbprint: platformKey.thumbprint,
    });
    expect(world.appKeys().map((k) => k.keyId)).toEqual([platformKey.keyId]);
    expect(world.history.filter((e) => e.kind === 'keyRemoved')).toMatchObject([{ thumbprint: old, via: 'patch' }]);
  });

  it('Ctrl-C stops at once and leaves a resumable snapshot', async () => {
    const world = new FakeWorld();
    const controller = new AbortController();
    const { driveRotation } = await import('../../../src/runs/driver.js');
    let saved: unknown;
    const first = await driveRotation({
      ports: world.ports(),
      input: rotationInput(),
      signal: controller.signal,
      onSnapshot: async (persisted, info) => {
        saved = persisted;
        if (info.state === 'attaching.backingOff') controller.abort();
      },
      onJournal: () => {},
    });
    expect(first).toMatchObject({ status: 'interrupted', outcome: null, state: 'attaching.backingOff' });
    const resumed = await driveInWorld(world, { snapshot: saved });
    expect(resumed.result.outcome).toBe('succeeded');
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
  });
});

describe('backoff', () => {
  it('doubles from the base, caps, and never undercuts Retry-After', () => {
    const p = DEFAULT_RETRY_POLICY;
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, p))).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000,
    ]);
    expect(backoffDelay(1, p, { code: 'throttled', message: '', retryable: true, retryAfterMs: 30_000 })).toBe(30_000);
    expect(backoffDelay(1, p, { code: 'keyNotFound', message: '', retryable: true })).toBe(10_000);
  });
});

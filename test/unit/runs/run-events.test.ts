/**
 * The run's event stream (src/runs/events.ts) as the driver emits it against the in-memory world: its order, one
 * `stepDone` per step, "not yet" looks as `waiting`, and the progress lines a full rotation prints.
 */
import { describe, expect, it } from 'vitest';
import { ProgressLines } from '../../../src/commands/progress.js';
import type { RotationInput } from '../../../src/machines/rotation-types.js';
import type { RunEvent, RunObserver } from '../../../src/runs/events.js';
import { driveRotation } from '../../../src/runs/driver.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

const MINUTE = 60_000;

function collector(): RunObserver & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

function portalInput(overrides: Partial<RotationInput> = {}): RotationInput {
  return rotationInput({
    kind: 'power-pages',
    keyVault: undefined,
    dataverseUrl: undefined,
    site: { environmentId: 'env-1', websiteId: 'site-1' },
    resumeTimeoutMs: 30 * MINUTE,
    ...overrides,
  });
}

/** The events about steps, as `type step`. */
function stepTrail(events: RunEvent[]): string[] {
  return events.flatMap((e) => ('step' in e && e.type !== 'confirmed' ? [`${e.type} ${e.step}`] : []));
}

describe('run events', () => {
  it('a keyvault rotation: every step starts once and is done once, in order, and the run ends', async () => {
    const world = new FakeWorld();
    const seen = collector();
    const { result } = await driveInWorld(world, { observers: [seen] });
    expect(result.outcome).toBe('succeeded');
    const events = seen.events;

    const started = events.filter((e) => e.type === 'stepStarted').map((e) => e.step);
    const done = events.filter((e) => e.type === 'stepDone').map((e) => e.step);
    const steps = [
      'observeTarget',
      'generateCertificate',
      'attachKeyCredential',
      'awaitPropagation',
      'installServerKey',
      'verifyNewKey',
      'retireOldKey',
    ];
    expect(started).toEqual(steps);
    expect(done).toEqual(steps);
    // Key Vault's create is pending first (the world takes 8 s to issue): a wait, then the poll, then one stepDone.
    const generate = stepTrail(events).filter((t) => t.endsWith(' generateCertificate'));
    expect(generate).toEqual([
      'stepStarted generateCertificate',
      'waiting generateCertificate',
      'attemptStarted generateCertificate',
      'stepDone generateCertificate',
    ]);
    // Entra propagates with a delay: a retrying with its attempt, wait and code, then another attempt of the step.
    const retry = events.find((e) => e.type === 'retrying');
    expect(retry).toMatchObject({ step: 'awaitPropagation', failedAttempt: 1, attempt: 2, code: 'keyNotFound' });
    expect(retry?.type === 'retrying' && retry.until - retry.at).toBe(retry?.type === 'retrying' && retry.waitMs);
    // Each step's events sit between its start and its done; nothing of a step follows its done.
    for (const step of steps) {
      const trail = stepTrail(events).filter((t) => t.endsWith(` ${step}`));
      expect(trail[0]).toBe(`stepStarted ${step}`);
      expect(trail.at(-1)).toBe(`stepDone ${step}`);
    }
    expect(events.at(-1)).toMatchObject({ type: 'ended', outcome: 'succeeded', runId: 'run-0001', state: 'succeeded' });
    // Times never go back, and the keys are on every event once known.
    for (let i = 1; i < events.length; i++) expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
    const retire = events.find((e) => e.type === 'stepDone' && e.step === 'retireOldKey');
    expect(retire).toMatchObject({ oldThumbprint: result.oldThumbprint, newThumbprint: result.newThumbprint });
    // generateCertificate's done already knows the new key (events follow the machine's view of the result).
    expect(events.find((e) => e.type === 'stepDone' && e.step === 'generateCertificate')?.newThumbprint).toBe(
      result.newThumbprint,
    );
  });

  it('power-pages: a look that finds no platform key is a waiting (with its deadline), never a stepDone', async () => {
    const world = new FakeWorld();
    const seen = collector();
    let looks = 0;
    const counter: RunObserver = {
      onEvent: (e) => {
        // The admin presses Update key after certrotate's second look.
        if (e.type === 'waiting' && e.step === 'detectPlatformKey' && ++looks === 2) {
          world.platformUpdateKey({ restartMs: 7 * MINUTE });
        }
      },
    };
    const { result } = await driveInWorld(world, {
      input: portalInput({ autoConfirm: false }),
      confirm: async () => true,
      observers: [seen, counter],
    });
    expect(result.outcome).toBe('succeeded');
    const detect = seen.events.filter((e) => 'step' in e && e.step === 'detectPlatformKey');
    const waits = detect.filter((e) => e.type === 'waiting');
    expect(waits.length).toBeGreaterThanOrEqual(2);
    for (const w of waits) {
      expect(w).toMatchObject({ result: { status: 'notYet' } });
      expect(w.type === 'waiting' && w.for).toContain("platform's new key");
      expect(w.type === 'waiting' && w.until).toBeGreaterThan(w.at);
      expect(w.type === 'waiting' && w.nextAt).toBeGreaterThan(w.at);
    }
    const dones = detect.filter((e) => e.type === 'stepDone');
    expect(dones).toHaveLength(1);
    expect(dones[0]).toMatchObject({ result: { status: 'found' }, newThumbprint: result.newThumbprint });
    // The question before the wait is asked after the step before it is done.
    const order = seen.events.map((e) => e.type);
    expect(order.indexOf('confirmRequested')).toBeGreaterThan(order.indexOf('stepDone'));
    expect(seen.events.filter((e) => e.type === 'confirmRequested').map((e) => e.step)).toEqual([
      'detectingPlatformKey',
      'retiring',
    ]);
  });

  it('a decline parks the run: the answer, then parked, and no ended', async () => {
    const world = new FakeWorld();
    const seen = collector();
    const { result } = await driveInWorld(world, {
      input: rotationInput({ autoConfirm: false }),
      confirm: async (step) => step !== 'attaching',
      observers: [seen],
    });
    expect(result.outcome).toBe('awaitingOperator');
    const tail = seen.events.slice(-3).map((e) => e.type);
    expect(tail).toEqual(['confirmRequested', 'declined', 'parked']);
    expect(seen.events.at(-1)).toMatchObject({ type: 'parked', reason: 'declined', outcome: 'awaitingOperator' });
    expect(seen.events.some((e) => e.type === 'ended')).toBe(false);
  });

  it('an observer that throws neither stops the run nor the other observers', async () => {
    const world = new FakeWorld();
    const seen = collector();
    const broken: RunObserver = {
      onEvent: () => {
        throw new Error('screen gone');
      },
    };
    const { result } = await driveInWorld(world, { observers: [broken, seen] });
    expect(result.outcome).toBe('succeeded');
    expect(seen.events.at(-1)?.type).toBe('ended');
  });

  it('prints one started and one succeeded line per step of a full rotation, retries and waits in between', async () => {
    const world = new FakeWorld();
    const lines: string[] = [];
    const progress = new ProgressLines();
    await driveInWorld(world, {
      observers: [
        {
          onEvent: (e) => {
            const line = progress.line(e);
            if (line) lines.push(line);
          },
        },
      ],
    });
    for (const step of ['observeTarget', 'generateCertificate', 'attachKeyCredential', 'retireOldKey']) {
      expect(lines.filter((l) => l.startsWith(`→ ${step} `))).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith(`✓ ${step} `))).toHaveLength(1);
    }
    expect(lines).toMatchInlineSnapshot(`
      [
        "→ observeTarget started",
        "✓ observeTarget succeeded",
        "→ generateCertificate started",
        "… generateCertificate waiting — for Key Vault to issue the new certificate version",
        "✓ generateCertificate succeeded",
        "→ attachKeyCredential started",
        "✓ attachKeyCredential succeeded",
        "→ awaitPropagation started",
        "↻ awaitPropagation retrying — attempt 2 in 10000 ms after keyNotFound",
        "↻ awaitPropagation retrying — attempt 3 in 10000 ms after keyNotFound",
        "↻ awaitPropagation retrying — attempt 4 in 10000 ms after keyNotFound",
        "↻ awaitPropagation retrying — attempt 5 in 10000 ms after keyNotFound",
        "↻ awaitPropagation retrying — attempt 6 in 10000 ms after keyNotFound",
        "✓ awaitPropagation succeeded (6 attempts)",
        "→ installServerKey started",
        "✓ installServerKey succeeded",
        "→ verifyNewKey started",
        "✓ verifyNewKey succeeded",
        "→ retireOldKey started",
        "✓ retireOldKey succeeded",
        "■ run run-0001 succeeded",
      ]
    `);
  });
});

describe('Ctrl-C in a step the operator had just confirmed', () => {
  it('reports the step at work as interrupted (running, no end), not as the decline an earlier invocation recorded', async () => {
    const world = new FakeWorld();
    // First invocation: guided, No at the install question: the run parks with installServerKey `declined`.
    let snapshot: unknown;
    const parked = await driveRotation({
      ports: world.ports(),
      input: rotationInput({ autoConfirm: false }),
      confirm: async (state) => state !== 'installing',
      onSnapshot: async (persisted) => {
        snapshot = JSON.parse(JSON.stringify(persisted));
      },
    });
    expect(parked.outcome).toBe('awaitingOperator');
    expect(parked.steps.find((s) => s.name === 'installServerKey')?.status).toBe('declined');

    // Second invocation: Yes at the question, then Ctrl-C as the install starts.
    const controller = new AbortController();
    const seen = collector();
    const stopper: RunObserver = {
      onEvent: (e) => {
        if (e.type === 'stepStarted' && e.step === 'installServerKey') controller.abort();
      },
    };
    const resumed = await driveRotation({
      ports: world.ports(),
      snapshot,
      resumeEvent: true,
      confirm: async () => true,
      signal: controller.signal,
      observers: [seen, stopper],
      onSnapshot: async () => undefined,
    });
    expect(resumed.status).toBe('interrupted');
    const install = resumed.steps.find((s) => s.name === 'installServerKey');
    expect(install).toMatchObject({ status: 'running', detail: 'interrupted; the step re-runs on resume' });
    expect(install?.endedAt).toBeUndefined();
    const interrupted = seen.events.find((e) => e.type === 'interrupted');
    expect(interrupted).toMatchObject({ type: 'interrupted', step: 'installServerKey' });
    expect(new ProgressLines().line(interrupted!)).toBe(
      '■ installServerKey interrupted — stopped at the operator’s request; resumable',
    );
    expect(seen.events.some((e) => e.type === 'declined')).toBe(false);
  });
});

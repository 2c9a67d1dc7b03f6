/**
 * The fleet orchestration with fakes: how many runs are in flight at once, that every target gets a result whatever
 * the others do, what --due skips, busy errors as `blocked`, Ctrl-C before a start, and the worst-exit precedence.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  defaultFleetConcurrency,
  fleetCounts,
  fleetExitCode,
  runFleet,
  type FleetRunResult,
} from '../../../src/fleet/fleet-run.js';
import { TargetBusyError } from '../../../src/runs/runner.js';
import { RunInFlightError } from '../../../src/runs/world-guard.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);

function ok(target: string): FleetRunResult {
  return { target, runId: `run-${target}`, outcome: 'succeeded', exitCode: 0 };
}

/** A rotate fake whose runs finish when the test lets them, recording the peak number in flight. */
function gatedRotate() {
  let inFlight = 0;
  let peak = 0;
  const waiting: Array<() => void> = [];
  const started: string[] = [];
  return {
    get peak() {
      return peak;
    },
    started,
    releaseAll() {
      while (waiting.length) waiting.shift()!();
    },
    rotate: async (target: string) => {
      started.push(target);
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight -= 1;
      return ok(target);
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('runFleet', () => {
  it('never has more than `concurrency` runs in flight, and starts the next as one ends', async () => {
    const fake = gatedRotate();
    const done = runFleet(names(10), { concurrency: 3, rotate: fake.rotate });
    await tick();
    expect(fake.started).toEqual(['t01', 't02', 't03']);
    for (let i = 0; i < 10; i++) {
      fake.releaseAll();
      await tick();
    }
    const results = await done;
    expect(fake.peak).toBe(3);
    expect(results.map((r) => r.target)).toEqual(names(10));
    expect(results.every((r) => r.outcome === 'succeeded')).toBe(true);
  });

  it('keeps every target’s result when others fail or are held by another run', async () => {
    const results = await runFleet(['a', 'b', 'c', 'd'], {
      concurrency: 2,
      rotate: async (t) => {
        if (t === 'b') throw new TargetBusyError('target "b" is locked by run R', 'R');
        if (t === 'c') throw new RunInFlightError('run S of "c" is in flight', 'S');
        if (t === 'd') throw new Error('Key Vault said no');
        return ok(t);
      },
    });
    expect(results.map((r) => [r.target, r.outcome, r.exitCode])).toEqual([
      ['a', 'succeeded', 0],
      ['b', 'blocked', 4],
      ['c', 'blocked', 4],
      ['d', 'error', 1],
    ]);
    expect(results[1]!.message).toContain('locked by run R');
    expect(results[3]!.message).toBe('Key Vault said no');
  });

  it('--due: a target judged not due gets no run, with the verdict’s reason', async () => {
    const rotated: string[] = [];
    const results = await runFleet(['due-1', 'fresh', 'due-2'], {
      concurrency: 4,
      judgeDue: async (t) => ({ due: t.startsWith('due'), why: `${t}: verdict` }),
      rotate: async (t) => {
        rotated.push(t);
        return ok(t);
      },
    });
    expect(rotated.sort()).toEqual(['due-1', 'due-2']);
    expect(results[1]).toEqual({
      target: 'fresh',
      runId: null,
      outcome: 'notDue',
      exitCode: 0,
      message: 'fresh: verdict',
    });
  });

  it('the due judgement counts against the bound too', async () => {
    let inFlight = 0;
    let peak = 0;
    const track = async <T>(value: T): Promise<T> => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await tick();
      inFlight -= 1;
      return value;
    };
    await runFleet(names(12), {
      concurrency: 2,
      judgeDue: (t) => track({ due: true, why: t }),
      rotate: (t) => track(ok(t)),
    });
    expect(peak).toBe(2);
  });

  it('after Ctrl-C, targets not yet started are not started', async () => {
    const controller = new AbortController();
    const fake = gatedRotate();
    const done = runFleet(names(5), { concurrency: 2, rotate: fake.rotate, signal: controller.signal });
    await tick();
    controller.abort();
    fake.releaseAll();
    for (let i = 0; i < 5; i++) {
      fake.releaseAll();
      await tick();
    }
    const results = await done;
    expect(fake.started).toEqual(['t01', 't02']);
    expect(results.slice(2).map((r) => r.outcome)).toEqual(['notStarted', 'notStarted', 'notStarted']);
  });
});

describe('runFleet and Ctrl-C listeners', () => {
  it('leaves no listener on the fleet’s signal, however many targets ran (a run never unhooks its own)', async () => {
    const controller = new AbortController();
    await runFleet(names(30), {
      concurrency: 4,
      signal: controller.signal,
      rotate: async (t, signal) => {
        signal.addEventListener('abort', () => undefined);
        return ok(t);
      },
    });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a running target still hears Ctrl-C through its own signal', async () => {
    const controller = new AbortController();
    const done = runFleet(['a'], {
      concurrency: 1,
      signal: controller.signal,
      rotate: (t, signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () =>
            resolve({ target: t, runId: 'R', outcome: 'interrupted', exitCode: 130 }),
          );
        }),
    });
    await tick();
    controller.abort();
    expect((await done)[0]!.outcome).toBe('interrupted');
  });
});

describe('fleetExitCode', () => {
  const r = (outcome: FleetRunResult['outcome'], exitCode: number): FleetRunResult => ({
    target: outcome,
    runId: null,
    outcome,
    exitCode,
  });

  it('is 0 when every target succeeded or had nothing to do', () => {
    expect(fleetExitCode([r('succeeded', 0), r('notDue', 0), r('noChange', 0)])).toBe(0);
  });

  it('takes the worst: failed (1) over parked (3) over blocked (4) over ok (0)', () => {
    expect(fleetExitCode([r('succeeded', 0), r('blocked', 4)])).toBe(4);
    expect(fleetExitCode([r('blocked', 4), r('awaitingOperator', 3)])).toBe(3);
    expect(fleetExitCode([r('awaitingRetirement', 3), r('blocked', 4), r('superseded', 1)])).toBe(1);
    expect(fleetExitCode([r('failed', 1), r('awaitingOperator', 3)])).toBe(1);
    expect(fleetExitCode([r('error', 1), r('succeeded', 0)])).toBe(1);
  });

  it('is 130 when Ctrl-C stopped the fleet, whatever else happened', () => {
    expect(fleetExitCode([r('failed', 1), r('interrupted', 130), r('notStarted', 130)], 'SIGINT')).toBe(130);
  });

  it('counts every outcome, zeros included', () => {
    const counts = fleetCounts([r('succeeded', 0), r('succeeded', 0), r('blocked', 4)]);
    expect(counts).toMatchObject({ total: 3, succeeded: 2, blocked: 1, failed: 0, awaitingOperator: 0, notDue: 0 });
  });
});

describe("defaultFleetConcurrency (Little's law over the budgets)", () => {
  const inVault = (host: string, n: number) => Array.from({ length: n }, () => ({ vaultHost: host }));

  it("keeps one vault's create budget busy: 20 creates per 10 s × 30 s per rotation = 60", () => {
    expect(defaultFleetConcurrency(inVault('kv-a.vault.azure.net', 500))).toBe(60);
  });

  it("adds each vault's create budget, up to 64", () => {
    expect(defaultFleetConcurrency([...inVault('a', 100), ...inVault('b', 100)])).toBe(64);
  });

  it('is bound by Graph writes alone for targets without a vault (10 rotations/s), capped at 64', () => {
    expect(defaultFleetConcurrency(Array.from({ length: 300 }, () => ({})))).toBe(64);
  });

  it('never exceeds the selection, and is at least 1', () => {
    expect(defaultFleetConcurrency(inVault('a', 7))).toBe(7);
    expect(defaultFleetConcurrency([])).toBe(1);
  });

  it('follows the budgets it is given: a vault of 10 creates per 10 s (HSM) gets 30', () => {
    const budgets = (key: string) =>
      key.startsWith('keyvault-create')
        ? { concurrency: 10, rate: { requests: 10, windowMs: 10_000 } }
        : { concurrency: 32, rate: { requests: 3000, windowMs: 150_000 } };
    expect(defaultFleetConcurrency(inVault('hsm', 100), budgets)).toBe(30);
    // Graph binds when it is the narrower: 60 writes per 150 s = 0.2 rotations/s × 30 s = 6.
    const tightGraph = (key: string) =>
      key.startsWith('graph') ? { concurrency: 32, rate: { requests: 60, windowMs: 150_000 } } : budgets(key);
    expect(defaultFleetConcurrency(inVault('hsm', 100), tightGraph)).toBe(6);
  });
});

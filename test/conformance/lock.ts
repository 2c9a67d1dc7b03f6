/**
 * What every TargetLock must do (I5: one run per target), whatever holds the locks: run it with
 * `describeTargetLockConformance('my lock', makeHarness)` from a `*.test.ts` file. Each handle the harness opens
 * stands for one process (host, pid); all handles of one harness contend for the same locks, on a simulated clock.
 */
import { describe, expect, it } from 'vitest';
import type { LockHolder, TargetLock } from '../../src/adapters/ports.js';

/** One contending process, as the suite describes it to the harness. */
export interface LockParticipant {
  host: string;
  pid: number;
  clock: { now(): number };
  leaseMs: number;
  /** Whether a pid is alive on the participant's host. */
  isProcessAlive: (pid: number) => boolean;
}

/** Locks under test: fresh and empty for each test. */
export interface LockHarness {
  /** A lock handle for one process; handles of one harness share their locks. */
  open(participant: LockParticipant): TargetLock;
}

const LEASE = 60_000;
const HOST = 'host-a';
const OTHER_HOST = 'host-b';

/** Registers the TargetLock conformance tests for the locks `makeHarness` builds (fresh locks per test). */
export function describeTargetLockConformance(name: string, makeHarness: () => Promise<LockHarness>): void {
  describe(`TargetLock conformance: ${name}`, () => {
    async function world() {
      let now = Date.parse('2026-11-28T00:00:00Z');
      const dead = new Set<number>();
      const clock = { now: () => now };
      const harness = await makeHarness();
      const proc = (pid: number, host = HOST) =>
        harness.open({ host, pid, clock, leaseMs: LEASE, isProcessAlive: (p) => !dead.has(p) });
      return {
        proc,
        advance: (ms: number) => (now += ms),
        kill: (pid: number) => dead.add(pid),
        leaseFromNow: () => new Date(now + LEASE).toISOString(),
      };
    }

    it('gives a free lock to the first run, names the holder to the next, and keeps targets apart', async () => {
      const w = await world();
      const a = w.proc(101);
      const b = w.proc(102);
      expect(await a.acquire('contoso-api', 'run-a')).toEqual({ acquired: true });
      const holder: LockHolder = { runId: 'run-a', pid: 101, host: HOST, leaseExpiresAt: w.leaseFromNow() };
      expect(await b.holder('contoso-api')).toEqual(holder);
      expect(await b.acquire('contoso-api', 'run-b')).toEqual({ acquired: false, holder });
      expect(await b.acquire('fabrikam-api', 'run-b')).toEqual({ acquired: true });
      expect(await a.holder('nobody')).toBeUndefined();
    });

    it('is idempotent for the process that holds it, renewing its lease', async () => {
      const w = await world();
      const a = w.proc(101);
      await a.acquire('t', 'run-a');
      w.advance(10_000);
      expect(await a.acquire('t', 'run-a')).toEqual({ acquired: true });
      expect((await a.holder('t'))?.leaseExpiresAt).toBe(w.leaseFromNow());
    });

    it('refuses the same run to another live process (a resume while the run still runs)', async () => {
      const w = await world();
      await w.proc(101).acquire('t', 'run-a');
      expect(await w.proc(102).acquire('t', 'run-a')).toMatchObject({ acquired: false, holder: { pid: 101 } });
    });

    it('releases only for the run that holds it, idempotently, and is free for the next run afterwards', async () => {
      const w = await world();
      const a = w.proc(101);
      const b = w.proc(102);
      await a.acquire('t', 'run-a');
      await b.release('t', 'run-b');
      expect((await a.holder('t'))?.runId).toBe('run-a');
      await a.release('t', 'run-a');
      expect(await a.holder('t')).toBeUndefined();
      await a.release('t', 'run-a');
      expect(await b.acquire('t', 'run-b')).toEqual({ acquired: true });
    });

    it('renews the lease of the holder and refuses to renew for another run', async () => {
      const w = await world();
      const a = w.proc(101);
      await a.acquire('t', 'run-a');
      w.advance(30_000);
      await a.renew('t', 'run-a');
      expect((await a.holder('t'))?.leaseExpiresAt).toBe(w.leaseFromNow());
      await expect(a.renew('t', 'run-b')).rejects.toThrow(/run-b/);
      await a.release('t', 'run-a');
      await expect(a.renew('t', 'run-a')).rejects.toThrow();
    });

    it('gives a free lock to exactly one of many processes acquiring it at once', async () => {
      const w = await world();
      const procs = Array.from({ length: 8 }, (_, i) => w.proc(200 + i));
      const results = await Promise.all(procs.map((p, i) => p.acquire('t', `run-${i}`)));
      const winners = results.flatMap((r, i) => (r.acquired ? [i] : []));
      expect(winners).toHaveLength(1);
      const winner = `run-${winners[0]}`;
      expect((await procs[0]!.holder('t'))?.runId).toBe(winner);
      for (const r of results) if (!r.acquired) expect(r.holder.runId).toBe(winner);
    });

    it('takes over the lease of a holder on another host only once it expired', async () => {
      const w = await world();
      await w.proc(101, OTHER_HOST).acquire('t', 'run-other');
      const me = w.proc(102);
      expect((await me.acquire('t', 'run-me')).acquired).toBe(false);
      w.advance(LEASE + 1);
      expect(await me.acquire('t', 'run-me')).toMatchObject({
        acquired: true,
        takenOverFrom: { runId: 'run-other', host: OTHER_HOST },
      });
      expect((await me.holder('t'))?.runId).toBe('run-me');
    });

    it('takes over at once from a holder whose process on this host is gone', async () => {
      const w = await world();
      await w.proc(101).acquire('t', 'run-dead');
      w.kill(101);
      expect(await w.proc(102).acquire('t', 'run-new')).toMatchObject({
        acquired: true,
        takenOverFrom: { runId: 'run-dead', pid: 101 },
      });
    });

    it('lets exactly one of many processes take over a stale lock at once', async () => {
      const w = await world();
      await w.proc(101).acquire('t', 'run-dead');
      w.kill(101);
      const procs = Array.from({ length: 8 }, (_, i) => w.proc(300 + i));
      const results = await Promise.all(procs.map((p, i) => p.acquire('t', `run-${i}`)));
      const winners = results.flatMap((r, i) => (r.acquired ? [i] : []));
      expect(winners).toHaveLength(1);
      expect((await procs[0]!.holder('t'))?.runId).toBe(`run-${winners[0]}`);
    });

    it('force-releases only a holder that is gone: never a live process here, nor an unexpired lease elsewhere', async () => {
      const w = await world();
      const unlocker = w.proc(900);
      expect(await unlocker.forceRelease('t')).toEqual({ status: 'notLocked' });

      await w.proc(101).acquire('t', 'run-live');
      expect(await unlocker.forceRelease('t')).toMatchObject({
        status: 'refused',
        reason: 'processAlive',
        holder: { runId: 'run-live', pid: 101, host: HOST },
      });
      // Past its lease a live local process is still refused: it may only be paused, and would drive on.
      w.advance(LEASE + 1);
      expect(await unlocker.forceRelease('t')).toMatchObject({ status: 'refused', reason: 'processAlive' });
      expect((await unlocker.holder('t'))?.runId).toBe('run-live');
      w.kill(101);
      expect(await unlocker.forceRelease('t')).toMatchObject({ status: 'removed', holder: { runId: 'run-live' } });
      expect(await unlocker.holder('t')).toBeUndefined();
      expect(await unlocker.forceRelease('t')).toEqual({ status: 'notLocked' });

      await w.proc(102, OTHER_HOST).acquire('t', 'run-far');
      expect(await unlocker.forceRelease('t')).toMatchObject({
        status: 'refused',
        reason: 'leaseActive',
        holder: { runId: 'run-far', host: OTHER_HOST },
      });
      w.advance(LEASE + 1);
      expect(await unlocker.forceRelease('t')).toMatchObject({ status: 'removed', holder: { runId: 'run-far' } });
      expect(await w.proc(103).acquire('t', 'run-next')).toEqual({ acquired: true });
    });
  });
}

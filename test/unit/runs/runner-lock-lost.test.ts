/**
 * A run whose lock cannot be renewed (its lease was broken, or expired and was taken over by another agent) stops at
 * the next step boundary — the step at work is never cut off, no further step starts — leaves the lock alone, says
 * why, and resumes once the lock can be held again.
 */
import { describe, expect, it } from 'vitest';
import type { LockHolder } from '../../../src/adapters/ports.js';
import { LockLostError } from '../../../src/adapters/state/file-lock.js';
import { MemoryTargetLock } from '../../../src/adapters/state/memory-lock.js';
import { MemoryRunStore } from '../../../src/adapters/state/memory-run-store.js';
import { resumeRun, startRun, type RunnerDeps } from '../../../src/runs/runner.js';
import { rotationInput } from '../../fakes/harness.js';
import { checkInvariants } from '../../fakes/invariants.js';
import { FakeWorld } from '../../fakes/world.js';

/** A memory lock whose renewals fail while `failing` is set, as a blob lease that was broken would. */
class FlakyLock extends MemoryTargetLock {
  failing = false;
  renewals = 0;
  override async renew(target: string, runId: string): Promise<void> {
    this.renewals++;
    if (this.failing)
      throw new LockLostError(`the lock on target "${target}" was broken; run ${runId} no longer holds it`);
    return super.renew(target, runId);
  }
}

describe('runner: a lost lock', () => {
  it('stops the run before its next step, keeps its hands off the lock, and resumes afterwards', async () => {
    const world = new FakeWorld();
    const holders = new Map<string, LockHolder>();
    const lock = new FlakyLock(holders, { clock: world.clock });
    const deps: RunnerDeps = {
      store: new MemoryRunStore(),
      lock,
      ports: world.ports(),
      clock: world.clock,
      actor: 'tester@host',
      renewEveryMs: 5,
    };
    const asked: string[] = [];
    const oldThumbprint = world.seededVersion.thumbprint;
    const doc = await startRun(deps, rotationInput({ runId: 'run-l' }), {
      // While the operator thinks about the first change, the lease is lost: the step confirmed next never starts.
      confirm: async (step) => {
        asked.push(step);
        lock.failing = true;
        const seen = lock.renewals;
        while (lock.renewals === seen) await new Promise((r) => setTimeout(r, 2));
        return true;
      },
    });
    expect(asked).toHaveLength(1);
    expect(doc.outcome).toBeNull();
    expect(doc.message).toMatch(/the lock on target "contoso-api" could not be renewed \(.*was broken.*\)/);
    expect(doc.message).toContain('certrotate resume run-l');
    expect(doc.next).toBe('certrotate resume run-l');
    // The confirmed step (generating a certificate) never started: only the look at the target ran.
    expect(asked).toEqual(['generating']);
    expect(doc.state).toBe('generating.requesting');
    expect(doc.steps.map((s) => [s.name, s.status])).toEqual([['observeTarget', 'succeeded']]);
    // The journal says why it stopped: not at the operator's request.
    const journal = await deps.store.readJournal('run-l');
    expect(journal.find((e) => e.event === 'interrupted')?.detail).toMatch(
      /lock was lost, so it stopped before its next step/,
    );
    // The stopped run did not release the lock: it may belong to another process by now.
    expect(holders.get('contoso-api')?.runId).toBe('run-l');

    lock.failing = false;
    const resumed = await resumeRun(deps, 'run-l');
    expect(resumed.outcome).toBe('succeeded');
    expect(checkInvariants(world, 'run-l', oldThumbprint)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { driveRotation } from '../../src/runs/driver.js';
import { checkInvariants } from '../fakes/invariants.js';
import { driveInWorld, rotationInput } from '../fakes/harness.js';
import { FakeWorld, type WorldOptions } from '../fakes/world.js';

/**
 * Stops a run right after its n-th snapshot was persisted (the step that snapshot shows active is interrupted
 * mid-flight), then restores that snapshot into a fresh actor over fresh port closures and runs it to the end.
 */
async function stopAfterSnapshotAndResume(n: number, options: WorldOptions) {
  const world = new FakeWorld(options);
  const controller = new AbortController();
  let saved: unknown;
  let savedState = '';
  let count = 0;
  const first = await driveRotation({
    ports: world.ports(),
    input: rotationInput(),
    signal: controller.signal,
    onSnapshot: async (persisted, info) => {
      if (controller.signal.aborted) return;
      saved = JSON.parse(JSON.stringify(persisted));
      savedState = info.state;
      count += 1;
      if (count === n) controller.abort();
    },
    onJournal: () => {},
  });
  const { result } = await driveInWorld(world, { snapshot: saved });
  return { world, first, result, savedState };
}

describe.each([
  ['default world', {}],
  ['no read lag', { readLagMs: 0 }],
])('persist and restore at every state (%s)', (_name, options: WorldOptions) => {
  it('converges to the same end state with no duplicate version or key credential', async () => {
    const reference = await driveInWorld(new FakeWorld(options));
    const total = reference.record.snapshots.length;
    expect(total).toBeGreaterThan(8);
    const statesCovered = new Set<string>();
    for (let n = 1; n < total; n += 1) {
      const { world, first, result, savedState } = await stopAfterSnapshotAndResume(n, options);
      const where = `stopped after snapshot ${n} (${savedState})`;
      statesCovered.add(savedState);
      expect(first.status, where).toBe('interrupted');
      expect(result.outcome, where).toBe('succeeded');
      expect(
        result.steps.map((s) => s.name),
        where,
      ).toEqual(reference.result.steps.map((s) => s.name));
      expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint), where).toEqual([]);
      expect(world.allVersions(), where).toHaveLength(2);
      expect(world.appKeys(), where).toHaveLength(1);
    }
    // Every state a clean run persists was a restore point, mid-step ones included.
    expect([...statesCovered].sort()).toEqual(
      [...new Set(reference.record.snapshots.slice(0, -1).map((s) => s.state))].sort(),
    );
  });
});

describe('restoring parked and confirming states', () => {
  it('a run parked for confirmation resumes after a restore and asks again', async () => {
    const world = new FakeWorld();
    const asked: string[] = [];
    const first = await driveInWorld(world, {
      input: rotationInput(),
      confirm: async (step) => {
        asked.push(step);
        return step !== 'attaching';
      },
    });
    expect(first.result.outcome).toBe('awaitingOperator');
    expect(first.result.park?.reason).toBe('declined');
    expect(world.appKeys()).toHaveLength(1);

    const second = await driveInWorld(world, {
      snapshot: first.record.snapshot,
      resumeEvent: true,
      confirm: async (step) => {
        asked.push(step);
        return true;
      },
    });
    expect(second.result.outcome).toBe('succeeded');
    expect(asked).toEqual(['generating', 'attaching', 'attaching', 'installing', 'retiring']);
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
  });
});

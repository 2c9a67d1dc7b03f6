import { describe, expect, it } from 'vitest';
import { MemoryTargetLock } from '../../../src/adapters/state/memory-lock.js';
import { MemoryRunStore } from '../../../src/adapters/state/memory-run-store.js';
import { newRunId, startRun, type RunnerDeps } from '../../../src/runs/runner.js';
import { assertNoRunInFlight } from '../../../src/runs/world-guard.js';
import { rotationInput } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

/** A world where another agent's run attached its key and was lost with its state (no record in this store). */
async function worldWithLostRun() {
  const world = new FakeWorld();
  const ports = world.ports();
  const lostRunId = newRunId('contoso-api', world.clock.now());
  const lost = world.seedTaggedVersion(lostRunId);
  const seeded = world.seededVersion;
  await ports.apps.addKey(
    rotationInput().appId,
    { thumbprint: lost.thumbprint, secretId: lost.secretId },
    { thumbprint: seeded.thumbprint, secretId: seeded.secretId },
  );
  // Past the directory's read lag, so a read sees the attached key.
  world.clock.advance(60_000);
  const deps: RunnerDeps = {
    store: new MemoryRunStore(),
    lock: new MemoryTargetLock(),
    ports,
    clock: world.clock,
    actor: 'tester@host',
  };
  return { world, deps, lostRunId, lost };
}

describe('world guard', () => {
  it('refuses a rotation beside a lost run whose key is on the app, naming the run (exit 4)', async () => {
    const { world, deps, lostRunId } = await worldWithLostRun();
    const keysBefore = world.appKeys().length;
    await expect(startRun(deps, rotationInput({ runId: 'run-b' }))).rejects.toMatchObject({
      name: 'TargetBusyError',
      holderRunId: lostRunId,
      message: expect.stringContaining(`certrotate resume ${lostRunId}`),
    });
    // Nothing was changed, and the lock was released.
    expect(world.appKeys()).toHaveLength(keysBefore);
    expect(await deps.lock.holder('contoso-api')).toBeUndefined();
  });

  it('lets the rotation start once the lost run is past the staleness bound', async () => {
    const { deps } = await worldWithLostRun();
    const doc = await startRun({ ...deps, staleRunAfterMs: 0 } as RunnerDeps, rotationInput({ runId: 'run-c' }));
    expect(doc.outcome).toBe('succeeded');
  });

  it('lets a rotation start on a target whose only key is the one in use', async () => {
    const world = new FakeWorld();
    const deps = {
      store: new MemoryRunStore(),
      lock: new MemoryTargetLock(),
      ports: world.ports(),
      clock: world.clock,
    };
    await expect(assertNoRunInFlight(deps, rotationInput({ runId: 'run-d' }))).resolves.toBeUndefined();
  });
});

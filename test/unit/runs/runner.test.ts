import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ROTATION_MACHINE_VERSION } from '../../../src/machines/rotation.js';
import { FileTargetLock } from '../../../src/adapters/state/file-lock.js';
import { FileRunStore } from '../../../src/adapters/state/file-run-store.js';
import {
  exitCodeFor,
  newRunId,
  resumeRun,
  RunRefusedError,
  startRun,
  TargetBusyError,
  type RunnerDeps,
} from '../../../src/runs/runner.js';
import { rotationInput } from '../../fakes/harness.js';
import { checkInvariants } from '../../fakes/invariants.js';
import { FakeWorld } from '../../fakes/world.js';

describe('runner', () => {
  let dir: string;
  let world: FakeWorld;
  let deps: RunnerDeps;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-runner-'));
    world = new FakeWorld();
    deps = {
      store: new FileRunStore(dir),
      lock: new FileTargetLock(dir, { clock: world.clock }),
      ports: world.ports(),
      clock: world.clock,
      actor: 'tester@host',
    };
  });

  it('runs a rotation to the end, persisting the envelope and journal, and releases the lock', async () => {
    const input = rotationInput({ runId: 'run-a' });
    const oldThumbprint = world.seededVersion.thumbprint;
    const doc = await startRun(deps, input);
    expect(doc).toMatchObject({
      formatVersion: 1,
      runId: 'run-a',
      target: 'contoso-api',
      outcome: 'succeeded',
      oldThumbprint,
    });
    expect(doc.newThumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(doc.steps.map((s) => s.name)).toContain('retireOldKey');
    expect(exitCodeFor(doc.outcome)).toBe(0);
    expect(checkInvariants(world, 'run-a', oldThumbprint)).toEqual([]);

    const envelope = JSON.parse(await readFile(join(dir, 'runs', 'run-a', 'snapshot.json'), 'utf8'));
    expect(envelope).toMatchObject({
      formatVersion: 1,
      machineVersion: ROTATION_MACHINE_VERSION,
      runId: 'run-a',
      target: 'contoso-api',
    });
    const journal = await deps.store.readJournal('run-a');
    expect(journal[0]).toMatchObject({ step: 'run', event: 'started', actor: 'tester@host' });
    expect(journal.every((e) => e.runId === 'run-a' && e.target === 'contoso-api')).toBe(true);
    expect(journal.some((e) => e.step === 'attachKeyCredential' && e.event === 'succeeded')).toBe(true);
    expect(await deps.lock.holder('contoso-api')).toBeUndefined();
    expect(await deps.store.listRuns()).toMatchObject([{ runId: 'run-a', outcome: 'succeeded' }]);
  });

  it("gives the commands in a parked run's message and next the --config of this invocation, not its journal", async () => {
    const parked = await startRun({ ...deps, configOption: 'prod.yaml' }, rotationInput({ runId: 'run-cfg' }), {
      confirm: async () => false,
    });
    expect(parked.next).toBe('certrotate resume run-cfg --config prod.yaml');
    expect(parked.message).toContain('run `certrotate resume run-cfg --config prod.yaml` to be asked again');
    // The run's own record names no config: another invocation may resume it with another path.
    const journal = await deps.store.readJournal('run-cfg');
    expect(JSON.stringify(journal)).toContain('`certrotate resume run-cfg`');
    expect(JSON.stringify(journal)).not.toContain('--config');
  });

  it('refuses a second run while the lock is held, naming the holder (exit 4)', async () => {
    await deps.lock.acquire('contoso-api', 'run-holder');
    const err = await startRun(deps, rotationInput({ runId: 'run-b' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetBusyError);
    expect((err as TargetBusyError).holderRunId).toBe('run-holder');
    expect((err as Error).message).toContain('locked by run run-holder');
  });

  it('parks a declined run (exit 3), refuses a new run of the target, and resumes it to the end', async () => {
    const input = rotationInput({ runId: 'run-c' });
    const parked = await startRun(deps, input, { confirm: async () => false });
    expect(parked.outcome).toBe('awaitingOperator');
    expect(exitCodeFor(parked.outcome)).toBe(3);
    expect(parked.next).toBe('certrotate resume run-c');
    expect(await deps.lock.holder('contoso-api')).toBeUndefined();

    const second = await startRun(deps, rotationInput({ runId: 'run-d' })).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(TargetBusyError);
    expect((second as Error).message).toMatch(/unfinished run run-c .*certrotate resume run-c/);

    const resumed = await resumeRun(deps, 'run-c', { confirm: async () => true });
    expect(resumed.outcome).toBe('succeeded');
    expect(checkInvariants(world, 'run-c', world.seededVersion.thumbprint)).toEqual([]);
    // Resuming a finished run is a no-op that reports the result again.
    expect((await resumeRun(deps, 'run-c')).outcome).toBe('succeeded');
  });

  it('refuses a snapshot written by another machine version, saying what to do', async () => {
    await startRun(deps, rotationInput({ runId: 'run-e' }), { confirm: async () => false });
    const path = join(dir, 'runs', 'run-e', 'snapshot.json');
    const envelope = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...envelope, machineVersion: 'rotation/0' }));
    await expect(resumeRun(deps, 'run-e')).rejects.toThrow(RunRefusedError);
    await expect(resumeRun(deps, 'run-e')).rejects.toThrow(
      /written by rotation machine rotation\/0.*certrotate show run-e/,
    );
  });

  it('closes a run declined before anything changed when it is rolled back, so the target is free again', async () => {
    const parked = await startRun(deps, rotationInput({ runId: 'run-g' }), {
      confirm: async () => false,
    });
    expect(parked.outcome).toBe('awaitingOperator');
    const closed = await resumeRun(deps, 'run-g', { rollback: true });
    expect(closed.outcome).toBe('rolledBack');
    expect(closed.message).toMatch(/Nothing had changed yet/);
    expect(world.allVersions()).toHaveLength(1);
    expect(world.appKeys()).toHaveLength(1);
    // The target is free: a new rotation starts and finishes.
    expect((await startRun(deps, rotationInput({ runId: 'run-h' }))).outcome).toBe('succeeded');
  });

  it('refuses to roll back a run that is not parked', async () => {
    const envelope = {
      formatVersion: 1 as const,
      machineVersion: ROTATION_MACHINE_VERSION,
      runId: 'run-f',
      target: 'contoso-api',
      updatedAt: new Date().toISOString(),
      snapshot: { status: 'active', value: { verifying: 'running' }, context: {} },
    };
    await deps.store.saveSnapshot(envelope);
    await expect(resumeRun(deps, 'run-f', { rollback: true })).rejects.toThrow(/is not parked/);
  });

  it('makes sortable, path-safe run ids', () => {
    const id = newRunId('contoso-api', Date.parse('2026-11-28T07:15:00.123Z'));
    expect(id).toMatch(/^20261128T071500Z-contoso-api-[0-9a-f]{6}$/);
  });
});

/**
 * Closing a run that changed nothing (issue 16, defect 7): `abandon RUN_ID` ends it `abandoned`, journaled, and frees
 * its target; a run that changed anything, or stopped inside a mutating step, is refused with what to do instead;
 * and `rollback` of a run stopped at its first question closes it too.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileTargetLock } from '../../../src/adapters/state/file-lock.js';
import { FileRunStore } from '../../../src/adapters/state/file-run-store.js';
import {
  abandonRun,
  exitCodeFor,
  resumeRun,
  RunRefusedError,
  startRun,
  TargetBusyError,
  type RunnerDeps,
} from '../../../src/runs/runner.js';
import { driveRotation } from '../../../src/runs/driver.js';
import { rotationInput } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

describe('abandoning a run', () => {
  let dir: string;
  let world: FakeWorld;
  let deps: RunnerDeps;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-abandon-'));
    world = new FakeWorld();
    deps = {
      store: new FileRunStore(dir),
      lock: new FileTargetLock(dir, { clock: world.clock }),
      ports: world.ports(),
      clock: world.clock,
      actor: 'tester@host',
    };
  });

  /** A guided run stopped by Ctrl-C at its first question: its snapshot waits at generating's gate. */
  async function stoppedAtFirstQuestion(runId: string) {
    const controller = new AbortController();
    const doc = await startRun(deps, rotationInput({ runId }), {
      signal: controller.signal,
      confirm: async () => {
        controller.abort();
        return new Promise<boolean>(() => {});
      },
    });
    expect(doc.outcome).toBeNull();
    expect(doc.state).toBe('generating.confirming');
    return doc;
  }

  it('closes a run stopped at its first question, journaled, and frees the target', async () => {
    await stoppedAtFirstQuestion('run-a');
    const blocked = await startRun(deps, rotationInput({ runId: 'run-b' })).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(TargetBusyError);

    const callsBefore = world.calls.length;
    const closed = await abandonRun(deps, 'run-a');
    expect(closed).toMatchObject({ outcome: 'abandoned', state: 'abandoned' });
    expect(closed.message).toMatch(/Nothing had changed yet; the run is closed/);
    expect(closed.next).toBeUndefined();
    expect(exitCodeFor(closed.outcome)).toBe(0);
    // Closing reads and writes nothing in the world.
    expect(world.calls.length).toBe(callsBefore);
    expect(world.allVersions()).toHaveLength(1);

    const journal = await deps.store.readJournal('run-a');
    expect(journal.slice(-2)).toMatchObject([
      { step: 'run', event: 'abandonRequested', mode: 'abandon', actor: 'tester@host' },
      { step: 'abandoned', event: 'abandoned', outcome: 'abandoned' },
    ]);
    expect(await deps.store.listRuns()).toMatchObject([{ runId: 'run-a', outcome: 'abandoned' }]);
    expect((await startRun(deps, rotationInput({ runId: 'run-b' }))).outcome).toBe('succeeded');
    // Abandoned is final: neither abandon nor rollback applies any more; resume reports it again.
    await expect(abandonRun(deps, 'run-a')).rejects.toThrow(/already ended \(abandoned\)/);
    expect((await resumeRun(deps, 'run-a')).outcome).toBe('abandoned');
  });

  it('closes a run declined before any change, and one interrupted while reading the target', async () => {
    expect((await startRun(deps, rotationInput({ runId: 'run-d' }), { confirm: async () => false })).outcome).toBe(
      'awaitingOperator',
    );
    expect((await abandonRun(deps, 'run-d')).outcome).toBe('abandoned');

    // Killed during preflight: the snapshot shows observeTarget in flight; reading changed nothing.
    const controller = new AbortController();
    const interrupted = await startRun(deps, rotationInput({ runId: 'run-p' }), {
      signal: controller.signal,
      observers: [{ onEvent: (e) => e.type === 'stepStarted' && e.step === 'observeTarget' && controller.abort() }],
    });
    expect(interrupted.state).toBe('preflight.running');
    const calls = world.calls.length;
    expect((await abandonRun(deps, 'run-p')).outcome).toBe('abandoned');
    // The restored observe step did not run again for the abandon.
    expect(world.calls.length).toBe(calls);
  });

  it('refuses a run that changed something, naming what and the commands that deal with it', async () => {
    // Declined at the attach gate: a Key Vault version exists.
    let n = 0;
    const parked = await startRun(deps, rotationInput({ runId: 'run-c' }), { confirm: async () => n++ === 0 });
    expect(parked.state).toBe('awaitingOperator');
    const err = await abandonRun(deps, 'run-c').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunRefusedError);
    expect((err as Error).message).toMatch(
      /cannot abandon: run run-c already changed the target \(it created a Key Vault version\)/,
    );
    expect((err as Error).message).toContain('`certrotate rollback run-c` undoes it');
    expect((err as Error).message).toContain('`certrotate resume run-c` finishes it');
    // Refused means untouched: still parked, and rollback still undoes it.
    expect((await deps.store.listRuns()).find((r) => r.runId === 'run-c')?.outcome).toBe('awaitingOperator');
    expect((await resumeRun(deps, 'run-c', { rollback: true })).outcome).toBe('rolledBack');
  });

  it('refuses a run stopped inside a mutating step: its effect may have landed unrecorded', async () => {
    const controller = new AbortController();
    const doc = await startRun(deps, rotationInput({ runId: 'run-m' }), {
      signal: controller.signal,
      observers: [
        { onEvent: (e) => e.type === 'stepStarted' && e.step === 'generateCertificate' && controller.abort() },
      ],
    });
    expect(doc.state).toBe('generating.requesting');
    await expect(abandonRun(deps, 'run-m')).rejects.toThrow(
      /stopped in generating\.requesting, a step that may have changed the target.*certrotate resume run-m/,
    );
  });

  it('rollback of a run stopped at its first question closes it (nothing to undo)', async () => {
    await stoppedAtFirstQuestion('run-r');
    const closed = await resumeRun(deps, 'run-r', { rollback: true });
    expect(closed.outcome).toBe('abandoned');
    expect(closed.message).toMatch(/Nothing had changed yet/);
    const journal = await deps.store.readJournal('run-r');
    expect(journal.map((l) => l.event).slice(-2)).toEqual(['rollbackRequested', 'abandoned']);
    expect((await startRun(deps, rotationInput({ runId: 'run-s' }))).outcome).toBe('succeeded');
  });

  it('the machine refuses ABANDON of a run that changed something even when asked directly', async () => {
    const snapshots: unknown[] = [];
    let n = 0;
    await driveRotation({
      ports: world.ports(),
      input: rotationInput({ runId: 'run-x' }),
      confirm: async () => n++ === 0,
      onSnapshot: async (s) => {
        snapshots.push(JSON.parse(JSON.stringify(s)));
      },
    });
    const parked = snapshots.at(-1);
    const result = await driveRotation({
      ports: world.ports(),
      snapshot: parked,
      abandonEvent: true,
      onSnapshot: async () => {},
    });
    // Refused: nothing driven, the run stays where it was.
    expect(result).toMatchObject({ status: 'interrupted', state: 'awaitingOperator', outcome: null });
  });
});

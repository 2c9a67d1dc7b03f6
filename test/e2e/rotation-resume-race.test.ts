/**
 * `resume RUN` racing the end of RUN's own process, in-process over the fake world (the race window is too narrow
 * to hit from a child process): the resume read a snapshot from before the end, then got the lock once the run had
 * finished and released it. It must read the snapshot again under the lock and see the run ended, rather than drive
 * it a second time from the older state.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEnvelope, RunStore } from '../../src/adapters/ports.js';
import { FileTargetLock } from '../../src/adapters/state/file-lock.js';
import { FileRunStore } from '../../src/adapters/state/file-run-store.js';
import { resumeRun, startRun, type RunnerDeps } from '../../src/runs/runner.js';
import { rotationInput } from '../fakes/harness.js';
import { FakeWorld } from '../fakes/world.js';

describe('resume racing the end of the run', () => {
  it('returns the ended run instead of driving it again from the older snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certrotate-race-'));
    const world = new FakeWorld();
    const files = new FileRunStore(dir);
    let midRun: RunEnvelope | undefined;
    const recording: RunStore = Object.assign(Object.create(files) as RunStore, {
      saveSnapshot: async (e: RunEnvelope) => {
        const s = e.snapshot as { status?: string; value?: unknown };
        if (s.status !== 'done' && JSON.stringify(s.value).includes('verifying')) midRun ??= structuredClone(e);
        return files.saveSnapshot(e);
      },
    });
    const deps: RunnerDeps = {
      store: recording,
      lock: new FileTargetLock(dir, { clock: world.clock }),
      ports: world.ports(),
      clock: world.clock,
      actor: 'tester@host',
    };
    const done = await startRun(deps, rotationInput({ runId: 'run-r' }));
    expect(done.outcome).toBe('succeeded');
    expect(midRun).toBeDefined();
    const journalBefore = await files.readJournal('run-r');
    const historyBefore = world.history.length;

    // The resume's first read saw the run mid-way; by the time it holds the lock, the run has ended.
    let reads = 0;
    const racing: RunStore = Object.assign(Object.create(files) as RunStore, {
      loadSnapshot: async (runId: string) => (reads++ === 0 ? midRun : files.loadSnapshot(runId)),
    });
    const doc = await resumeRun({ ...deps, store: racing }, 'run-r');

    expect(doc.outcome).toBe('succeeded');
    expect(doc.newThumbprint).toBe(done.newThumbprint);
    expect(world.history.length).toBe(historyBefore);
    expect(await files.readJournal('run-r')).toEqual(journalBefore);
    expect(await deps.lock.holder('contoso-api')).toBeUndefined();
    await rm(dir, { recursive: true, force: true });
  });
});

import { mkdtemp, readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RunEnvelope } from '../../../src/adapters/ports.js';
import { FileRunStore } from '../../../src/adapters/state/file-run-store.js';
import { RunStoreError, summarizeSnapshot } from '../../../src/adapters/state/run-format.js';

function envelope(runId: string, n: number, extra: Partial<RunEnvelope> = {}): RunEnvelope {
  return {
    formatVersion: 1,
    machineVersion: 'rotation@1',
    runId,
    target: 'contoso-api',
    updatedAt: new Date(1_700_000_000_000 + n).toISOString(),
    snapshot: { value: 'generating', status: 'active', context: { n } },
    ...extra,
  };
}

describe('FileRunStore', () => {
  let dir: string;
  let store: FileRunStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-store-'));
    store = new FileRunStore(dir);
  });

  it('round-trips an envelope through runs/<runId>/snapshot.json with mode 0600', async () => {
    await store.saveSnapshot(envelope('r1', 1));
    const loaded = await store.loadSnapshot('r1');
    expect(loaded).toEqual(envelope('r1', 1));
    const st = await stat(join(dir, 'runs', 'r1', 'snapshot.json'));
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('lands un-awaited writes in the order they were issued and leaves no temp files', async () => {
    const writes = Array.from({ length: 50 }, (_, i) => store.saveSnapshot(envelope('r1', i)));
    await Promise.all(writes);
    const loaded = await store.loadSnapshot('r1');
    expect((loaded?.snapshot as { context: { n: number } }).context.n).toBe(49);
    expect(await readdir(join(dir, 'runs', 'r1'))).toEqual(['snapshot.json']);
  });

  it('returns undefined for an unknown run and refuses a corrupt or foreign file with the path in the message', async () => {
    expect(await store.loadSnapshot('nope')).toBeUndefined();
    await mkdir(join(dir, 'runs', 'bad'), { recursive: true });
    await writeFile(join(dir, 'runs', 'bad', 'snapshot.json'), '{"formatVersion": 1, "oops"');
    await expect(store.loadSnapshot('bad')).rejects.toThrow(/snapshot\.json is not valid JSON/);
    await writeFile(join(dir, 'runs', 'bad', 'snapshot.json'), JSON.stringify({ formatVersion: 2 }));
    await expect(store.loadSnapshot('bad')).rejects.toThrow(RunStoreError);
    await expect(store.loadSnapshot('bad')).rejects.toThrow(/not a certrotate run snapshot: formatVersion/);
  });

  it('refuses run ids that could escape the runs directory', async () => {
    await expect(store.loadSnapshot('../../etc')).rejects.toThrow(/run id "..\/..\/etc" is not valid/);
    expect(() => store.saveSnapshot(envelope('a/b', 1))).toThrow(RunStoreError);
  });

  it('appends the journal in order and survives a torn last line', async () => {
    for (let i = 0; i < 5; i++) {
      void store.appendJournal({
        time: new Date(1_700_000_000_000 + i).toISOString(),
        runId: 'r2',
        target: 't',
        step: `s${i}`,
        event: 'started',
      });
    }
    await store.flush();
    const path = join(dir, 'runs', 'r2', 'journal.jsonl');
    await writeFile(path, (await readFile(path, 'utf8')) + '{"time":"2023-', { flag: 'w' });
    const journal = await store.readJournal('r2');
    expect(journal.map((e) => e.step)).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('lists runs newest first with state and outcome read from the snapshot', async () => {
    await store.appendJournal({
      time: '2026-01-01T00:00:00.000Z',
      runId: 'old',
      target: 'a',
      step: 'run',
      event: 'started',
    });
    await store.saveSnapshot({
      ...envelope('old', 1),
      target: 'a',
      snapshot: { value: 'succeeded', status: 'done', output: { outcome: 'succeeded' } },
    });
    await store.appendJournal({
      time: '2026-02-01T00:00:00.000Z',
      runId: 'new',
      target: 'b',
      step: 'run',
      event: 'started',
    });
    await store.saveSnapshot({
      ...envelope('new', 2),
      target: 'b',
      snapshot: { value: { retiring: 'removingKey' }, status: 'active', context: {} },
    });
    const runs = await store.listRuns();
    expect(runs.map((r) => [r.runId, r.target, r.state, r.outcome])).toEqual([
      ['new', 'b', 'retiring.removingKey', null],
      ['old', 'a', 'succeeded', 'succeeded'],
    ]);
  });

  it('lists a run whose snapshot.json cannot be read as corrupt, naming the file and the error', async () => {
    await store.appendJournal({
      time: '2026-03-01T00:00:00.000Z',
      runId: 'unreadable',
      target: 'contoso-api',
      step: 'run',
      event: 'started',
    });
    // A directory where the file should be: unreadable whoever runs the test (root ignores file modes).
    await mkdir(join(dir, 'runs', 'unreadable', 'snapshot.json'), { recursive: true });
    await expect(store.loadSnapshot('unreadable')).rejects.toThrow(RunStoreError);
    await expect(store.loadSnapshot('unreadable')).rejects.toThrow(/unreadable\/snapshot\.json cannot be read/);
    expect(await store.listRuns()).toEqual([
      {
        runId: 'unreadable',
        target: 'contoso-api',
        state: 'corrupt',
        outcome: 'corrupt',
        startedAt: '2026-03-01T00:00:00.000Z',
        updatedAt: '2026-03-01T00:00:00.000Z',
        error: expect.stringMatching(/snapshot\.json cannot be read \(EISDIR/),
      },
    ]);
  });

  it('skips a run directory that has a journal but no snapshot yet (a run starting now), as before', async () => {
    await store.appendJournal({
      time: '2026-03-01T00:00:00.000Z',
      runId: 'starting',
      target: 'contoso-api',
      step: 'run',
      event: 'started',
    });
    expect(await store.listRuns()).toEqual([]);
  });

  it('stores the plan a run started from', async () => {
    await store.savePlan('r3', { formatVersion: 1, fingerprint: 'abc' });
    expect(JSON.parse(await readFile(join(dir, 'runs', 'r3', 'plan.json'), 'utf8'))).toEqual({
      formatVersion: 1,
      fingerprint: 'abc',
    });
  });
});

describe('summarizeSnapshot', () => {
  it('reads a parked outcome from context and leaves running runs at null', () => {
    expect(summarizeSnapshot({ value: 'awaitingOperator', context: { outcome: 'awaitingOperator' } })).toEqual({
      state: 'awaitingOperator',
      outcome: 'awaitingOperator',
    });
    expect(summarizeSnapshot({ value: 'verifying', context: {} })).toEqual({ state: 'verifying', outcome: null });
  });
});

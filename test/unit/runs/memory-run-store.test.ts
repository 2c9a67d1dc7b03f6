import { describe, expect, it } from 'vitest';
import { MemoryRunStore } from '../../../src/adapters/state/memory-run-store.js';

describe('MemoryRunStore', () => {
  it('keeps copies, not references, and lists runs like the file store', async () => {
    const store = new MemoryRunStore();
    const snapshot = { value: 'verifying', status: 'active', context: { n: 1 } };
    await store.saveSnapshot({
      formatVersion: 1,
      machineVersion: 'm',
      runId: 'r',
      target: 't',
      updatedAt: '2026-01-02T00:00:00Z',
      snapshot,
    });
    snapshot.context.n = 2;
    expect(((await store.loadSnapshot('r'))?.snapshot as typeof snapshot).context.n).toBe(1);
    await store.appendJournal({ time: '2026-01-01T00:00:00Z', runId: 'r', target: 't', step: 'run', event: 'started' });
    expect(await store.listRuns()).toEqual([
      {
        runId: 'r',
        target: 't',
        state: 'verifying',
        outcome: null,
        startedAt: '2026-01-01T00:00:00Z',
        updatedAt: '2026-01-02T00:00:00Z',
      },
    ]);
    expect(await store.loadSnapshot('none')).toBeUndefined();
  });

  it('keeps its records as text under object names, as an object store would', async () => {
    const objects = new Map<string, string>();
    const store = new MemoryRunStore(objects);
    await store.appendJournal({ time: '2026-01-01T00:00:00Z', runId: 'r', target: 't', step: 'run', event: 'started' });
    await store.savePlan('r', { formatVersion: 1 });
    expect([...objects.keys()].sort()).toEqual(['runs/r/journal.jsonl', 'runs/r/plan.json']);
    expect(JSON.parse(objects.get('runs/r/journal.jsonl')!)).toMatchObject({ runId: 'r', event: 'started' });
  });
});

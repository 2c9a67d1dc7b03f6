/**
 * What every RunStore must do, whatever holds the runs (a directory, memory, an object store): run it with
 * `describeRunStoreConformance('my store', makeHarness)` from a `*.test.ts` file. The port has no version or etag,
 * so the suite checks ordering of un-awaited writes instead of conflict detection.
 */
import { describe, expect, it } from 'vitest';
import type { JournalEntry, RunEnvelope, RunStore } from '../../src/adapters/ports.js';
import { RunStoreError } from '../../src/adapters/state/run-format.js';

/** A store under test, fresh and empty, with the two things the suite cannot do through the port. */
export interface RunStoreHarness {
  store: RunStore;
  /** A second store over the same storage: what another process (or a later run of certrotate) would open. */
  reopen(): RunStore;
  /** Writes `text` where the store keeps the snapshot of `runId`, bypassing the store (a corrupt or foreign file). */
  writeRawSnapshot(runId: string, text: string): Promise<void>;
}

const T0 = Date.parse('2026-11-28T08:00:00.000Z');

/** An envelope of run `runId` whose context carries `n`, to tell writes apart. */
export function envelope(runId: string, n: number, extra: Partial<RunEnvelope> = {}): RunEnvelope {
  return {
    formatVersion: 1,
    machineVersion: 'rotation@test',
    runId,
    target: 'contoso-api',
    updatedAt: new Date(T0 + n * 1000).toISOString(),
    snapshot: { value: 'generating', status: 'active', context: { n } },
    ...extra,
  };
}

function entry(runId: string, i: number, extra: Partial<JournalEntry> = {}): JournalEntry {
  return {
    time: new Date(T0 + i * 1000).toISOString(),
    runId,
    target: 'contoso-api',
    step: `step${i}`,
    event: 'started',
    ...extra,
  };
}

const nOf = (e: RunEnvelope | undefined) => (e?.snapshot as { context: { n: number } } | undefined)?.context.n;

/** Registers the RunStore conformance tests for the store that `makeHarness` builds (one fresh store per test). */
export function describeRunStoreConformance(name: string, makeHarness: () => Promise<RunStoreHarness>): void {
  describe(`RunStore conformance: ${name}`, () => {
    it('knows nothing of a run it never stored', async () => {
      const { store } = await makeHarness();
      expect(await store.loadSnapshot('20261128T080000Z-contoso-api-0a1b2c')).toBeUndefined();
      expect(await store.readJournal('20261128T080000Z-contoso-api-0a1b2c')).toEqual([]);
      expect(await store.listRuns()).toEqual([]);
    });

    it('round-trips an envelope, and shares no reference with the caller in either direction', async () => {
      const { store } = await makeHarness();
      const saved = envelope('r1', 1);
      await store.saveSnapshot(saved);
      (saved.snapshot as { context: { n: number } }).context.n = 99;
      const loaded = await store.loadSnapshot('r1');
      expect(loaded).toEqual(envelope('r1', 1));
      (loaded!.snapshot as { context: { n: number } }).context.n = 98;
      expect(nOf(await store.loadSnapshot('r1'))).toBe(1);
    });

    it('keeps the last of several saves, un-awaited saves landing in the order they were issued', async () => {
      const { store } = await makeHarness();
      const writes = Array.from({ length: 30 }, (_, i) => store.saveSnapshot(envelope('r1', i)));
      await Promise.all(writes);
      expect(nOf(await store.loadSnapshot('r1'))).toBe(29);
      await store.saveSnapshot(envelope('r1', 30));
      expect(nOf(await store.loadSnapshot('r1'))).toBe(30);
    });

    it('has every awaited write visible to another instance over the same storage after flush', async () => {
      const h = await makeHarness();
      void h.store.saveSnapshot(envelope('r1', 7));
      void h.store.appendJournal(entry('r1', 0));
      void h.store.savePlan('r1', { formatVersion: 1, fingerprint: 'abc' });
      await h.store.flush();
      const other = h.reopen();
      expect(nOf(await other.loadSnapshot('r1'))).toBe(7);
      expect(await other.readJournal('r1')).toEqual([entry('r1', 0)]);
    });

    it('reads the journal back in append order, un-awaited appends included, one journal per run', async () => {
      const { store } = await makeHarness();
      for (let i = 0; i < 20; i++) void store.appendJournal(entry(i % 2 ? 'odd' : 'even', i));
      await store.flush();
      expect((await store.readJournal('even')).map((e) => e.step)).toEqual(
        [0, 2, 4, 6, 8, 10, 12, 14, 16, 18].map((i) => `step${i}`),
      );
      expect((await store.readJournal('odd')).map((e) => e.step)).toEqual(
        [1, 3, 5, 7, 9, 11, 13, 15, 17, 19].map((i) => `step${i}`),
      );
    });

    it('keeps every field of a journal entry, structured detail included', async () => {
      const { store } = await makeHarness();
      const full = entry('r1', 0, {
        oldThumbprint: 'A'.repeat(40),
        newThumbprint: 'B'.repeat(40),
        requestIds: ['req-1', 'req-2'],
        actor: 'op@host',
        detail: { code: 'throttled', message: 'slow down', retryable: true },
      });
      await store.appendJournal(full);
      expect(await store.readJournal('r1')).toEqual([full]);
    });

    it('lists runs newest first, with state and outcome read from the snapshot and times from the journal', async () => {
      const { store } = await makeHarness();
      await store.appendJournal(entry('old', 0, { target: 'a' }));
      await store.saveSnapshot({
        ...envelope('old', 1, { target: 'a' }),
        snapshot: { value: 'succeeded', status: 'done', output: { outcome: 'succeeded' } },
      });
      await store.appendJournal(entry('parked', 2, { target: 'b' }));
      await store.saveSnapshot({
        ...envelope('parked', 3, { target: 'b' }),
        snapshot: { value: 'awaitingOperator', status: 'active', context: { outcome: 'awaitingOperator' } },
      });
      await store.appendJournal(entry('new', 4, { target: 'c' }));
      await store.saveSnapshot({
        ...envelope('new', 5, { target: 'c' }),
        snapshot: { value: { retiring: 'removingKey' }, status: 'active', context: {} },
      });
      expect(await store.listRuns()).toEqual([
        {
          runId: 'new',
          target: 'c',
          state: 'retiring.removingKey',
          outcome: null,
          startedAt: entry('new', 4).time,
          updatedAt: envelope('new', 5).updatedAt,
        },
        {
          runId: 'parked',
          target: 'b',
          state: 'awaitingOperator',
          outcome: 'awaitingOperator',
          startedAt: entry('parked', 2).time,
          updatedAt: envelope('parked', 3).updatedAt,
        },
        {
          runId: 'old',
          target: 'a',
          state: 'succeeded',
          outcome: 'succeeded',
          startedAt: entry('old', 0).time,
          updatedAt: envelope('old', 1).updatedAt,
        },
      ]);
    });

    it('lists a run that has a snapshot but no journal, with some start time', async () => {
      const { store } = await makeHarness();
      await store.saveSnapshot(envelope('r1', 1));
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ runId: 'r1', target: 'contoso-api', state: 'generating', outcome: null });
      expect(Number.isNaN(Date.parse(run!.startedAt))).toBe(false);
    });

    it('refuses run ids that could escape the store, on every call that takes one', async () => {
      const { store } = await makeHarness();
      for (const bad of ['../../etc', 'a/b', '', '.hidden']) {
        await expect(async () => store.saveSnapshot(envelope(bad, 1))).rejects.toThrow(RunStoreError);
        await expect(async () => store.loadSnapshot(bad)).rejects.toThrow(RunStoreError);
        await expect(async () => store.appendJournal(entry(bad, 0))).rejects.toThrow(RunStoreError);
        await expect(async () => store.readJournal(bad)).rejects.toThrow(RunStoreError);
        await expect(async () => store.savePlan(bad, {})).rejects.toThrow(RunStoreError);
      }
      await expect(store.loadSnapshot('../../etc')).rejects.toThrow(/run id "\.\.\/\.\.\/etc" is not valid/);
    });

    it('refuses to load a corrupt or foreign snapshot, naming where it is and what is wrong', async () => {
      const h = await makeHarness();
      await h.writeRawSnapshot('bad', '{"formatVersion": 1, "oops"');
      await expect(h.store.loadSnapshot('bad')).rejects.toThrow(RunStoreError);
      await expect(h.store.loadSnapshot('bad')).rejects.toThrow(/bad.*snapshot\.json is not valid JSON/);
      await h.writeRawSnapshot('bad', JSON.stringify({ formatVersion: 2 }));
      await expect(h.store.loadSnapshot('bad')).rejects.toThrow(/not a certrotate run snapshot: formatVersion: got 2/);
    });

    it('lists a corrupt run as corrupt with its error and the target its journal names, never skipping it', async () => {
      const h = await makeHarness();
      await h.store.appendJournal(entry('good', 0, { target: 'fabrikam-api' }));
      await h.store.saveSnapshot(envelope('good', 1, { target: 'fabrikam-api' }));
      await h.store.appendJournal(entry('broken', 2, { target: 'contoso-api' }));
      await h.store.appendJournal(entry('broken', 3, { target: 'contoso-api', event: 'succeeded' }));
      await h.store.saveSnapshot(envelope('broken', 3));
      await h.writeRawSnapshot('broken', '{"formatVersion": 1, "runId": "bro');
      const runs = await h.store.listRuns();
      expect(runs.map((r) => r.runId)).toEqual(['broken', 'good']);
      expect(runs[0]).toEqual({
        runId: 'broken',
        target: 'contoso-api',
        state: 'corrupt',
        outcome: 'corrupt',
        startedAt: entry('broken', 2).time,
        updatedAt: entry('broken', 3).time,
        error: expect.stringMatching(/broken.*snapshot\.json is not valid JSON/),
      });
      expect(runs[1]).toMatchObject({ runId: 'good', target: 'fabrikam-api', state: 'generating' });
      expect(runs[1]).not.toHaveProperty('error');
    });

    it('reads the target of a corrupt run without a journal from its run id, or says it is unknown', async () => {
      const h = await makeHarness();
      await h.writeRawSnapshot('20261128T080000Z-contoso-api-0a1b2c', 'not json');
      await h.writeRawSnapshot('hand-made', JSON.stringify({ formatVersion: 1 }));
      const byId = Object.fromEntries((await h.store.listRuns()).map((r) => [r.runId, r]));
      expect(byId['20261128T080000Z-contoso-api-0a1b2c']).toMatchObject({
        target: 'contoso-api',
        outcome: 'corrupt',
        error: expect.stringContaining('not valid JSON'),
      });
      expect(byId['hand-made']).toMatchObject({
        target: '(unknown)',
        outcome: 'corrupt',
        error: expect.stringContaining('not a certrotate run snapshot'),
      });
    });

    it('keeps a named record beside the runs: absent, written, overwritten, seen by a reopened store', async () => {
      const { store, reopen } = await makeHarness();
      expect(await store.readRecord('notify-sent')).toBeUndefined();
      await store.writeRecord('notify-sent', { a: 1 });
      await store.writeRecord('notify-sent', { a: 2, list: ['x'] });
      expect(await store.readRecord('notify-sent')).toEqual({ a: 2, list: ['x'] });
      expect(await reopen().readRecord('notify-sent')).toEqual({ a: 2, list: ['x'] });
      // A record is not a run: listing runs does not see it.
      expect(await store.listRuns()).toEqual([]);
      await expect(store.writeRecord('../escape', {})).rejects.toThrow(RunStoreError);
    });

    it('flushes with nothing pending, and after pending writes', async () => {
      const { store } = await makeHarness();
      await store.flush();
      void store.saveSnapshot(envelope('r1', 1));
      await store.flush();
      expect(nOf(await store.loadSnapshot('r1'))).toBe(1);
    });
  });
}

import type { JournalEntry, RunEnvelope, RunStore, RunSummary } from '../ports.js';
import {
  assertRecordName,
  assertRunId,
  corruptRunSummary,
  newestFirst,
  parseEnvelope,
  parseJournal,
  parseRecord,
  RUN_ID,
  runSummary,
  serializeEnvelope,
  serializeJournalEntry,
  serializeRecord,
} from './run-format.js';

/**
 * A run store in memory: for benchmarks (the cost of persistence is the file store's time against this one) and for
 * tests. It keeps the records as text in a map of object names (`runs/<runId>/snapshot.json`, …), the way an object
 * store would, and reads them back through the same codec as the file store: nothing shares references with the
 * machine, and a corrupt record is refused and listed exactly as the file store does. Pass the same map to a second
 * instance to see what another process would see.
 */
export class MemoryRunStore implements RunStore {
  /** @param objects the stored records by name; shared between instances that stand for the same store. */
  constructor(readonly objects: Map<string, string> = new Map()) {}

  /** The object name of one record of a run. */
  static objectName(runId: string, record: 'snapshot.json' | 'journal.jsonl' | 'plan.json'): string {
    assertRunId(runId);
    return `runs/${runId}/${record}`;
  }

  async saveSnapshot(envelope: RunEnvelope): Promise<void> {
    this.objects.set(MemoryRunStore.objectName(envelope.runId, 'snapshot.json'), serializeEnvelope(envelope));
  }

  async loadSnapshot(runId: string): Promise<RunEnvelope | undefined> {
    const name = MemoryRunStore.objectName(runId, 'snapshot.json');
    const text = this.objects.get(name);
    return text === undefined ? undefined : parseEnvelope(text, name);
  }

  async appendJournal(entry: JournalEntry): Promise<void> {
    const name = MemoryRunStore.objectName(entry.runId, 'journal.jsonl');
    this.objects.set(name, `${this.objects.get(name) ?? ''}${serializeJournalEntry(entry)}\n`);
  }

  async readJournal(runId: string): Promise<JournalEntry[]> {
    return parseJournal(this.objects.get(MemoryRunStore.objectName(runId, 'journal.jsonl')) ?? '');
  }

  async savePlan(runId: string, plan: unknown): Promise<void> {
    this.objects.set(MemoryRunStore.objectName(runId, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`);
  }

  async readRecord(name: string): Promise<unknown> {
    assertRecordName(name);
    const text = this.objects.get(`records/${name}.json`);
    return text === undefined ? undefined : parseRecord(text, `records/${name}.json`);
  }

  async writeRecord(name: string, value: unknown): Promise<void> {
    assertRecordName(name);
    this.objects.set(`records/${name}.json`, serializeRecord(value));
  }

  async listRuns(): Promise<RunSummary[]> {
    const ids = new Set<string>();
    for (const name of this.objects.keys()) {
      const m = /^runs\/([^/]+)\/snapshot\.json$/.exec(name);
      if (m && RUN_ID.test(m[1]!)) ids.add(m[1]!);
    }
    const runs: RunSummary[] = [];
    for (const runId of ids) {
      const journal = await this.readJournal(runId);
      let envelope: RunEnvelope | undefined;
      try {
        envelope = await this.loadSnapshot(runId);
      } catch (err) {
        // As in the file store: a run whose state cannot be read is listed as corrupt, never skipped.
        const epoch = new Date(0).toISOString();
        runs.push(corruptRunSummary(runId, err, journal, { startedAt: epoch, updatedAt: epoch }));
        continue;
      }
      if (envelope) runs.push(runSummary(runId, envelope, journal, envelope.updatedAt));
    }
    return newestFirst(runs);
  }

  async flush(): Promise<void> {}
}

import type { JournalEntry, RunEnvelope, RunStore, RunSummary } from '../adapters/ports.js';
import { summarizeSnapshot } from './file-run-store.js';

/**
 * A run store in memory: for benchmarks (the cost of persistence is the file store's time against this one) and for
 * tests. Entries are copied through JSON, as the file store would, so nothing shares references with the machine.
 */
export class MemoryRunStore implements RunStore {
  private readonly snapshots = new Map<string, RunEnvelope>();
  private readonly journals = new Map<string, JournalEntry[]>();
  private readonly plans = new Map<string, unknown>();

  async saveSnapshot(envelope: RunEnvelope): Promise<void> {
    this.snapshots.set(envelope.runId, JSON.parse(JSON.stringify(envelope)) as RunEnvelope);
  }

  async loadSnapshot(runId: string): Promise<RunEnvelope | undefined> {
    const e = this.snapshots.get(runId);
    return e ? (JSON.parse(JSON.stringify(e)) as RunEnvelope) : undefined;
  }

  async appendJournal(entry: JournalEntry): Promise<void> {
    const list = this.journals.get(entry.runId) ?? [];
    list.push(JSON.parse(JSON.stringify(entry)) as JournalEntry);
    this.journals.set(entry.runId, list);
  }

  async readJournal(runId: string): Promise<JournalEntry[]> {
    return [...(this.journals.get(runId) ?? [])];
  }

  async savePlan(runId: string, plan: unknown): Promise<void> {
    this.plans.set(runId, JSON.parse(JSON.stringify(plan)));
  }

  async listRuns(): Promise<RunSummary[]> {
    return [...this.snapshots.values()]
      .map((e) => ({
        runId: e.runId,
        target: e.target,
        ...summarizeSnapshot(e.snapshot),
        startedAt: this.journals.get(e.runId)?.[0]?.time ?? e.updatedAt,
        updatedAt: e.updatedAt,
      }))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  async flush(): Promise<void> {}
}

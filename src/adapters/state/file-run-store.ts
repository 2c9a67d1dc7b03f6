import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JournalEntry, RunEnvelope, RunStore, RunSummary } from '../ports.js';
import { appendLineDurable, KeyedQueue, readFileIfExists, writeFileAtomic } from './atomic-file.js';
import {
  assertRecordName,
  assertRunId,
  corruptRunSummary,
  newestFirst,
  parseEnvelope,
  parseRecord,
  parseJournal,
  RUN_ID,
  runSummary,
  RunStoreError,
  serializeEnvelope,
  serializeJournalEntry,
  serializeRecord,
  stateWriteError,
} from './run-format.js';

export { assertRunId, RunStoreError } from './run-format.js';

/**
 * The file run store of DESIGN §4: `runs/<runId>/snapshot.json` (atomic, queued), `journal.jsonl` (append-only,
 * flushed per line) and `plan.json`, under the configured state directory.
 */
export class FileRunStore implements RunStore {
  private readonly queue = new KeyedQueue();
  /** Runs whose snapshot this store has saved: a later refused write can offer `resume` for them. */
  private readonly recorded = new Set<string>();

  /** @param dir the state directory (`state.dir`, default `.certrotate` beside the config file). */
  constructor(readonly dir: string) {}

  private runDir(runId: string): string {
    assertRunId(runId);
    return join(this.dir, 'runs', runId);
  }

  saveSnapshot(envelope: RunEnvelope): Promise<void> {
    const dir = this.runDir(envelope.runId);
    const body = serializeEnvelope(envelope);
    return this.queue.run(`snapshot:${envelope.runId}`, () =>
      this.writing(envelope.runId, async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(join(dir, 'snapshot.json'), body);
        this.recorded.add(envelope.runId);
      }),
    );
  }

  /** Runs a write of `runId`'s files, turning an OS refusal into a store error that says what to do. */
  private async writing(runId: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      const recorded =
        this.recorded.has(runId) ||
        (await stat(join(this.runDir(runId), 'snapshot.json')).then(
          () => true,
          () => false,
        ));
      throw stateWriteError(err, this.dir, { runId, recorded });
    }
  }

  async loadSnapshot(runId: string): Promise<RunEnvelope | undefined> {
    const path = join(this.runDir(runId), 'snapshot.json');
    await this.queue.run(`snapshot:${runId}`, async () => undefined);
    let text: string | undefined;
    try {
      text = await readFileIfExists(path);
    } catch (err) {
      // EACCES, EISDIR, EIO: the run exists but its state cannot be read; say so as a store error, not a crash.
      throw new RunStoreError(`${path} cannot be read (${(err as Error).message}); the run cannot be resumed from it`);
    }
    if (text === undefined) return undefined;
    return parseEnvelope(text, path);
  }

  appendJournal(entry: JournalEntry): Promise<void> {
    const dir = this.runDir(entry.runId);
    const line = serializeJournalEntry(entry);
    return this.queue.run(`journal:${entry.runId}`, () =>
      this.writing(entry.runId, async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await appendLineDurable(join(dir, 'journal.jsonl'), line);
      }),
    );
  }

  async readJournal(runId: string): Promise<JournalEntry[]> {
    const path = join(this.runDir(runId), 'journal.jsonl');
    await this.queue.run(`journal:${runId}`, async () => undefined);
    const text = await readFileIfExists(path);
    return text === undefined ? [] : parseJournal(text);
  }

  savePlan(runId: string, plan: unknown): Promise<void> {
    const dir = this.runDir(runId);
    return this.queue.run(`plan:${runId}`, () =>
      this.writing(runId, async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(join(dir, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`);
      }),
    );
  }

  /** `records/<name>.json` under the state directory. */
  private recordPath(name: string): string {
    assertRecordName(name);
    return join(this.dir, 'records', `${name}.json`);
  }

  async readRecord(name: string): Promise<unknown> {
    const path = this.recordPath(name);
    await this.queue.run(`record:${name}`, async () => undefined);
    const text = await readFileIfExists(path);
    return text === undefined ? undefined : parseRecord(text, path);
  }

  async writeRecord(name: string, value: unknown): Promise<void> {
    const path = this.recordPath(name);
    const body = serializeRecord(value);
    return this.queue.run(`record:${name}`, async () => {
      try {
        await mkdir(join(this.dir, 'records'), { recursive: true, mode: 0o700 });
        await writeFileAtomic(path, body);
      } catch (err) {
        throw new RunStoreError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    });
  }

  async listRuns(): Promise<RunSummary[]> {
    await this.flush();
    let ids: string[];
    try {
      ids = await readdir(join(this.dir, 'runs'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const runs: RunSummary[] = [];
    for (const runId of ids) {
      // Not a run directory certrotate made (a run id is checked before it becomes a path).
      if (!RUN_ID.test(runId)) continue;
      const snapshotPath = join(this.runDir(runId), 'snapshot.json');
      // A journal that cannot be read does not hide the run: its snapshot still says where it stands.
      const journal = await this.readJournal(runId).catch(() => [] as JournalEntry[]);
      let envelope: RunEnvelope | undefined;
      try {
        envelope = await this.loadSnapshot(runId);
      } catch (err) {
        // Never skip a run whose state cannot be read: nobody knows what it changed, so it must stay visible (and
        // block its target) until a person has looked at it.
        const st = await stat(snapshotPath).catch(() => undefined);
        const time = (st?.mtime ?? new Date(0)).toISOString();
        runs.push(corruptRunSummary(runId, err, journal, { startedAt: time, updatedAt: time }));
        continue;
      }
      // No snapshot yet: a run that is starting right now, or died before its first transition (nothing changed).
      if (!envelope) continue;
      const startedAt = journal[0]?.time ?? (await stat(snapshotPath)).birthtime.toISOString();
      runs.push(runSummary(runId, envelope, journal, startedAt));
    }
    return newestFirst(runs);
  }

  flush(): Promise<void> {
    return this.queue.drain();
  }
}

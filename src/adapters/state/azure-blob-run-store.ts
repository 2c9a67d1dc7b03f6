/**
 * The run store of `state.kind: azure-blob`: every run under `<prefix>runs/<runId>/` in one container that every
 * agent and operator shares — `snapshot.json` (a block blob written with ETag conditions), `journal-NNNNNN.jsonl`
 * (append blobs written at a known append position, rolled before storage's 50,000-block limit) and `plan.json`.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { JournalEntry, RunEnvelope, RunStore, RunSummary } from '../ports.js';
import { KeyedQueue } from './atomic-file.js';
import { blobStateError, codeOf, isConflict, isNotFound, isPreconditionFailed } from './azure-blob-storage.js';
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
  RunStoreError,
  serializeEnvelope,
  serializeJournalEntry,
  serializeRecord,
} from './run-format.js';

/** Storage's limit of blocks in one append blob. */
export const APPEND_BLOB_BLOCK_LIMIT = 50_000;

/** Another writer moved the run on (a 412 on its snapshot): this process must stop driving it. */
export class RunMovedOnError extends RunStoreError {}

/** Options of {@link BlobRunStore}. */
export interface BlobRunStoreOptions {
  /** Object-name prefix inside the container (`""` or ending in `/`). */
  prefix?: string;
  /**
   * Appends per journal blob before the journal rolls to the next one (default 49,000: a margin below storage's
   * 50,000-block limit, so a retried append never meets it).
   */
  journalBlocksPerBlob?: number;
}

/** Where this process believes a run's journal ends: its current blob, the byte length, the blocks in it. */
interface JournalTail {
  segment: number;
  position: number;
  blocks: number;
}

/** What a run whose state could not be written does next, for the operator. */
const resumeHint = (runId: string) =>
  `the run stops before its next step; \`certrotate resume ${runId}\` continues it once storage answers`;

const JOURNAL_BLOB = /^journal-(\d{6})\.jsonl$/;
const segmentName = (n: number) => `journal-${String(n).padStart(6, '0')}.jsonl`;

/** Reads at most `limit` tasks at a time: listing a container of runs must not open hundreds of sockets at once. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Runs in a blob container. A snapshot is created with `If-None-Match: *` and every later write carries
 * `If-Match: <the ETag this store last wrote or read>`; a 412 means another writer moved the run on, so the store
 * re-reads and, unless the blob already holds exactly what it meant to write (its own earlier try that landed before
 * a lost reply), refuses with {@link RunMovedOnError} — it never overwrites. Writes for one run are queued, so
 * un-awaited saves land in the order they were issued.
 */
export class BlobRunStore implements RunStore {
  private readonly queue = new KeyedQueue();
  private readonly etags = new Map<string, string>();
  private readonly tails = new Map<string, JournalTail>();
  private readonly prefix: string;
  private readonly blocksPerBlob: number;

  constructor(
    readonly container: ContainerClient,
    opts: BlobRunStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? '';
    this.blocksPerBlob = opts.journalBlocksPerBlob ?? APPEND_BLOB_BLOCK_LIMIT - 1000;
  }

  /** The object name of one record of a run. */
  objectName(runId: string, record: string): string {
    assertRunId(runId);
    return `${this.prefix}runs/${runId}/${record}`;
  }

  private where(name: string): string {
    return `${this.container.url}/${name}`;
  }

  saveSnapshot(envelope: RunEnvelope): Promise<void> {
    const name = this.objectName(envelope.runId, 'snapshot.json');
    const body = serializeEnvelope(envelope);
    return this.queue.run(`snapshot:${envelope.runId}`, async () => {
      const blob = this.container.getBlockBlobClient(name);
      const etag = this.etags.get(envelope.runId);
      try {
        const res = await blob.upload(body, Buffer.byteLength(body), {
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
        if (res.etag) this.etags.set(envelope.runId, res.etag);
      } catch (err) {
        // 412 (If-Match failed, or If-None-Match on an existing blob) or 409 BlobAlreadyExists: the blob is not the
        // one this store last saw. A retried write whose first try landed also comes back 412 (fleet-state §2.5).
        if (!isPreconditionFailed(err) && !isConflict(err)) {
          throw blobStateError(
            `saving the snapshot of run ${envelope.runId}`,
            this.where(name),
            err,
            resumeHint(envelope.runId),
          );
        }
        const now = await this.download(name);
        if (now?.text === body) {
          this.etags.set(envelope.runId, now.etag);
          return;
        }
        throw new RunMovedOnError(
          `run ${envelope.runId} was moved on by another writer (${this.where(name)} changed since this process ` +
            `read it, ${codeOf(err) ?? 'precondition failed'}); this process stops driving it — ` +
            `\`certrotate show ${envelope.runId}\` shows where it stands`,
        );
      }
    });
  }

  /** A blob's text and ETag, or undefined when it does not exist. */
  private async download(name: string): Promise<{ text: string; etag: string; createdOn?: Date } | undefined> {
    try {
      const buf = await this.container.getBlockBlobClient(name).downloadToBuffer();
      // downloadToBuffer does not return the ETag; a properties read right after gives the one of what was read
      // unless a writer came between, in which case the next conditional write fails and re-reads: never unsafe.
      const props = await this.container.getBlobClient(name).getProperties();
      return {
        text: buf.toString('utf8'),
        etag: props.etag ?? '',
        ...(props.createdOn ? { createdOn: props.createdOn } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw blobStateError(`reading ${name}`, this.where(name), err);
    }
  }

  async loadSnapshot(runId: string): Promise<RunEnvelope | undefined> {
    const name = this.objectName(runId, 'snapshot.json');
    await this.queue.run(`snapshot:${runId}`, async () => undefined);
    const got = await this.download(name);
    if (!got) {
      this.etags.delete(runId);
      return undefined;
    }
    this.etags.set(runId, got.etag);
    return parseEnvelope(got.text, this.where(name));
  }

  appendJournal(entry: JournalEntry): Promise<void> {
    const line = `${serializeJournalEntry(entry)}\n`;
    this.objectName(entry.runId, 'journal');
    return this.queue.run(`journal:${entry.runId}`, () => this.append(entry.runId, line));
  }

  /**
   * Appends `line` at the position this store believes the journal ends. A 412 `AppendPositionConditionNotMet`
   * means the journal grew (another writer, or our own earlier try whose reply was lost): the tail is re-read, and
   * the line is either found there (done) or appended at the new end.
   */
  private async append(runId: string, line: string): Promise<void> {
    const bytes = Buffer.from(line, 'utf8');
    let tail = this.tails.get(runId) ?? (await this.discoverTail(runId));
    for (let attempt = 0; attempt < 5; attempt++) {
      if (tail.blocks >= this.blocksPerBlob) tail = { segment: tail.segment + 1, position: 0, blocks: 0 };
      const name = this.objectName(runId, segmentName(tail.segment));
      const blob = this.container.getAppendBlobClient(name);
      try {
        if (tail.position === 0 && tail.blocks === 0) await blob.createIfNotExists();
        const res = await blob.appendBlock(bytes, bytes.length, { conditions: { appendPosition: tail.position } });
        tail = {
          segment: tail.segment,
          position: tail.position + bytes.length,
          blocks: res.blobCommittedBlockCount ?? tail.blocks + 1,
        };
        this.tails.set(runId, tail);
        return;
      } catch (err) {
        if (codeOf(err) === 'BlockCountExceedsLimit') {
          tail = { segment: tail.segment + 1, position: 0, blocks: 0 };
          continue;
        }
        if (!isPreconditionFailed(err)) {
          this.tails.delete(runId);
          throw blobStateError(`appending to the journal of run ${runId}`, this.where(name), err, resumeHint(runId));
        }
        const fresh = await this.discoverTail(runId);
        if (fresh.segment === tail.segment && (await this.landedAt(name, tail.position, bytes))) {
          this.tails.set(runId, fresh);
          return;
        }
        tail = fresh;
      }
    }
    throw new RunStoreError(`the journal of run ${runId} kept moving under this process; the line was not written`);
  }

  /** Whether `bytes` stand at `position` of blob `name` (our own append that landed before its reply was lost). */
  private async landedAt(name: string, position: number, bytes: Buffer): Promise<boolean> {
    try {
      const got = await this.container.getBlobClient(name).downloadToBuffer(position, bytes.length);
      return got.equals(bytes);
    } catch {
      return false;
    }
  }

  /** The journal's current end as storage has it: its newest blob, length and block count. */
  private async discoverTail(runId: string): Promise<JournalTail> {
    const segments = await this.journalSegments(runId);
    const last = segments.at(-1);
    if (last === undefined) return { segment: 0, position: 0, blocks: 0 };
    const name = this.objectName(runId, segmentName(last));
    try {
      const props = await this.container.getBlobClient(name).getProperties();
      return { segment: last, position: props.contentLength ?? 0, blocks: props.blobCommittedBlockCount ?? 0 };
    } catch (err) {
      throw blobStateError(`reading the journal of run ${runId}`, this.where(name), err);
    }
  }

  private async journalSegments(runId: string): Promise<number[]> {
    const dir = this.objectName(runId, '');
    const found: number[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix: dir })) {
        const m = JOURNAL_BLOB.exec(blob.name.slice(dir.length));
        if (m) found.push(Number(m[1]));
      }
    } catch (err) {
      throw blobStateError(`listing the journal of run ${runId}`, this.where(dir), err);
    }
    return found.sort((a, b) => a - b);
  }

  async readJournal(runId: string): Promise<JournalEntry[]> {
    this.objectName(runId, 'journal');
    await this.queue.run(`journal:${runId}`, async () => undefined);
    const segments = await this.journalSegments(runId);
    const texts = await Promise.all(
      segments.map(async (n) => (await this.download(this.objectName(runId, segmentName(n))))?.text ?? ''),
    );
    return parseJournal(texts.join(''));
  }

  savePlan(runId: string, plan: unknown): Promise<void> {
    const name = this.objectName(runId, 'plan.json');
    const body = `${JSON.stringify(plan, null, 2)}\n`;
    return this.queue.run(`plan:${runId}`, async () => {
      try {
        // The plan a run started from: written once by the run that owns it, so an overwrite is the same content.
        await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
      } catch (err) {
        throw blobStateError(`saving the plan of run ${runId}`, this.where(name), err);
      }
    });
  }

  /** `<prefix>records/<name>.json`, beside the runs (never under `runs/`, so listing runs does not see it). */
  private recordName(name: string): string {
    assertRecordName(name);
    return `${this.prefix}records/${name}.json`;
  }

  async readRecord(name: string): Promise<unknown> {
    const blob = this.recordName(name);
    await this.queue.run(`record:${name}`, async () => undefined);
    const got = await this.download(blob);
    return got === undefined ? undefined : parseRecord(got.text, this.where(blob));
  }

  async writeRecord(name: string, value: unknown): Promise<void> {
    const blob = this.recordName(name);
    const body = serializeRecord(value);
    return this.queue.run(`record:${name}`, async () => {
      try {
        // An unconditional overwrite: a record holds only what is safe to lose to a concurrent writer.
        await this.container.getBlockBlobClient(blob).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
      } catch (err) {
        throw blobStateError(`writing the record ${name}`, this.where(blob), err);
      }
    });
  }

  async listRuns(): Promise<RunSummary[]> {
    await this.flush();
    const root = `${this.prefix}runs/`;
    const ids = new Set<string>();
    try {
      // Paged: a container of many runs is read page by page, never in one reply.
      for await (const page of this.container.listBlobsFlat({ prefix: root }).byPage({ maxPageSize: 1000 })) {
        for (const blob of page.segment.blobItems) {
          const m = /^([^/]+)\/snapshot\.json$/.exec(blob.name.slice(root.length));
          if (m && RUN_ID.test(m[1]!)) ids.add(m[1]!);
        }
      }
    } catch (err) {
      throw blobStateError('listing runs', this.where(root), err);
    }
    const runs = await mapLimit([...ids], 8, async (runId): Promise<RunSummary | undefined> => {
      const name = this.objectName(runId, 'snapshot.json');
      const journal = await this.readJournal(runId).catch(() => [] as JournalEntry[]);
      let got: Awaited<ReturnType<BlobRunStore['download']>>;
      try {
        got = await this.download(name);
        if (!got) return undefined;
        const envelope = parseEnvelope(got.text, this.where(name));
        return runSummary(runId, envelope, journal, (got.createdOn ?? new Date(0)).toISOString());
      } catch (err) {
        // As in the file store: a run whose state cannot be read is listed as corrupt, never skipped.
        const time = (got?.createdOn ?? new Date(0)).toISOString();
        return corruptRunSummary(runId, err, journal, { startedAt: time, updatedAt: time });
      }
    });
    return newestFirst(runs.filter((r): r is RunSummary => r !== undefined));
  }

  flush(): Promise<void> {
    return this.queue.drain();
  }
}

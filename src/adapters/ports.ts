/**
 * Ports: the interfaces through which the rotation machine and the commands reach the outside world.
 *
 * The machines in `src/machines/` never import an adapter; the runner binds adapters to these ports with
 * `machine.provide()`. Every method states whether it is idempotent, because a resumed run re-invokes the step
 * that was active when the process died (DESIGN §2, I3).
 */

// ---------------------------------------------------------------------------------------------------------------
// Runs: persistence, journal, lock, clock (implemented in src/runs/)
// ---------------------------------------------------------------------------------------------------------------

/** The persisted form of one run's machine snapshot (DESIGN §4). */
export interface RunEnvelope {
  formatVersion: 1;
  /** The rotation machine's version; a snapshot of another version is refused on restore. */
  machineVersion: string;
  runId: string;
  target: string;
  /** ISO-8601 UTC time of the write. */
  updatedAt: string;
  /** The XState persisted snapshot (`actor.getPersistedSnapshot()`): ids, thumbprints and times only (I4). */
  snapshot: unknown;
}

/** One line of a run's append-only audit journal. Ids, thumbprints and times only: never key material (I4). */
export interface JournalEntry {
  /** ISO-8601 UTC. */
  time: string;
  runId: string;
  target: string;
  /** The step or state the entry is about, e.g. `attachKeyCredential`. */
  step: string;
  /** What happened: `started`, `succeeded`, `skipped`, `retrying`, `failed`, `confirmed`, `parked`, … */
  event: string;
  oldThumbprint?: string;
  newThumbprint?: string;
  /** Service request ids (x-ms-request-id, client-request-id) that correlate with Azure's own logs. */
  requestIds?: string[];
  /** Who ran it: user@host. */
  actor?: string;
  /** A short human sentence or a plain-JSON error `{code, message}`. */
  detail?: string | { code?: string; message: string; retryable?: boolean };
}

/** What `runs` lists for one run. */
export interface RunSummary {
  runId: string;
  target: string;
  /** The machine's final outcome, or null while the run is unfinished. */
  outcome: string | null;
  /** The machine's current state value, flattened (`verifying`, `retiring.removingKeyCredential`). */
  state: string;
  startedAt: string;
  updatedAt: string;
}

/** Durable storage of runs. */
export interface RunStore {
  /**
   * Writes a run's snapshot atomically (temp file, fsync, rename, fsync dir). Writes for one run are queued, so a
   * later call never lands before an earlier one. Idempotent: writing the same envelope twice leaves the same file.
   */
  saveSnapshot(envelope: RunEnvelope): Promise<void>;
  /** Reads a run's envelope, or undefined when the run does not exist. Throws on a corrupt or foreign file. */
  loadSnapshot(runId: string): Promise<RunEnvelope | undefined>;
  /** Appends one line to the run's journal. Not idempotent by nature: callers journal facts, not intentions. */
  appendJournal(entry: JournalEntry): Promise<void>;
  /** The run's journal in order; empty when there is none. */
  readJournal(runId: string): Promise<JournalEntry[]>;
  /** Stores the plan a run was started from (`plan.json`). Idempotent (overwrites). */
  savePlan(runId: string, plan: unknown): Promise<void>;
  /** Every run known to the store, newest first. */
  listRuns(): Promise<RunSummary[]>;
  /** Resolves when every queued write has reached the disk. */
  flush(): Promise<void>;
}

/** Who holds a target's lock. */
export interface LockHolder {
  runId: string;
  pid: number;
  host: string;
  /** ISO-8601 UTC; past it, a holder that stopped renewing is stale. */
  leaseExpiresAt: string;
}

/** The outcome of trying to take a target's lock. */
export type LockAcquisition = { acquired: true; takenOverFrom?: LockHolder } | { acquired: false; holder: LockHolder };

/** One run per target (I5). */
export interface TargetLock {
  /**
   * Takes the target's lock for `runId`. Succeeds when the lock is free, already held by `runId` (idempotent), or
   * stale: the holder's process on this host is gone, or its lease expired. Otherwise returns the holder.
   */
  acquire(target: string, runId: string): Promise<LockAcquisition>;
  /** Extends the lease of a lock held by `runId`. Throws when another run holds it. */
  renew(target: string, runId: string): Promise<void>;
  /** Releases the lock if `runId` holds it; a no-op otherwise (idempotent). */
  release(target: string, runId: string): Promise<void>;
  /** Removes the lock whoever holds it (`unlock --force`). Idempotent. */
  forceRelease(target: string): Promise<LockHolder | undefined>;
  /** The current holder, or undefined. */
  holder(target: string): Promise<LockHolder | undefined>;
}

/** Time, injectable so backoff and deadlines are tested with a simulated clock and no real sleeps. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time; rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

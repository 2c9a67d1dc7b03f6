import { mkdir, open, rm, rmdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Clock, LockAcquisition, LockHolder, TargetLock } from '../adapters/ports.js';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';

/** Options of {@link FileTargetLock}. */
export interface FileTargetLockOptions {
  /** How long a lease lasts without renewal (default 10 minutes). */
  leaseMs?: number;
  clock?: Pick<Clock, 'now'>;
  /** This host's name as recorded in locks (default `os.hostname()`). */
  host?: string;
  /** This process's pid (default `process.pid`). */
  pid?: number;
  /** Whether a pid is alive on this host (default: `process.kill(pid, 0)`). */
  isProcessAlive?: (pid: number) => boolean;
}

/** Another holder changed the lock under us. */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
}

function processAlive(pid: number): boolean {
  // kill(0 or negative) would address a process group, not one process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else — alive for our purposes.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One run per target (I5), as `locks/<target>.json` under the state directory. Creation uses O_EXCL, so two runs
 * starting at once cannot both win; taking over a stale lock is serialised by a `mkdir` mutex beside it, so two runs
 * resuming at once cannot both take it over.
 */
export class FileTargetLock implements TargetLock {
  private readonly leaseMs: number;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly host: string;
  private readonly pid: number;
  private readonly isAlive: (pid: number) => boolean;

  /** @param stateDir the state directory; locks live in `<stateDir>/locks/`. */
  constructor(
    readonly stateDir: string,
    opts: FileTargetLockOptions = {},
  ) {
    this.leaseMs = opts.leaseMs ?? 10 * 60_000;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.host = opts.host ?? hostname();
    this.pid = opts.pid ?? process.pid;
    this.isAlive = opts.isProcessAlive ?? processAlive;
  }

  private path(target: string): string {
    return join(this.stateDir, 'locks', `${encodeURIComponent(target)}.json`);
  }

  private me(runId: string): LockHolder {
    return {
      runId,
      pid: this.pid,
      host: this.host,
      leaseExpiresAt: new Date(this.clock.now() + this.leaseMs).toISOString(),
    };
  }

  /** A holder is stale when its process on this host is gone (at once), or when its lease ran out (any host). */
  isStale(holder: LockHolder): boolean {
    if (holder.host === this.host && holder.pid !== this.pid && !this.isAlive(holder.pid)) return true;
    return Date.parse(holder.leaseExpiresAt) <= this.clock.now();
  }

  async acquire(target: string, runId: string): Promise<LockAcquisition> {
    const path = this.path(target);
    await mkdir(join(this.stateDir, 'locks'), { recursive: true, mode: 0o700 });
    if (await this.createExclusive(path, this.me(runId))) return { acquired: true };

    const holder = await this.holder(target);
    if (!holder) {
      // The holder released between our create and our read: try once more, as a fresh start.
      return (await this.createExclusive(path, this.me(runId))) ? { acquired: true } : this.acquire(target, runId);
    }
    if (holder.runId === runId && holder.pid === this.pid && holder.host === this.host) {
      // Re-acquiring a lock this very process holds is idempotent: renew the lease. The same run held by another
      // live process (a `resume` while the rotation still runs) is refused below like any other holder, or taken
      // over when that process is gone: two processes must never drive one run at once (I5).
      await writeFileAtomic(path, JSON.stringify(this.me(runId)));
      return { acquired: true };
    }
    if (!this.isStale(holder)) return { acquired: false, holder };
    return this.takeOver(target, runId, holder);
  }

  private async takeOver(target: string, runId: string, stale: LockHolder): Promise<LockAcquisition> {
    const path = this.path(target);
    const mutex = `${path}.takeover`;
    try {
      await mkdir(mutex);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Someone else is taking it over right now, unless they died doing so long ago.
      const age = this.clock.now() - (await stat(mutex)).mtimeMs;
      if (age < 30_000) return { acquired: false, holder: stale };
      await rmdir(mutex).catch(() => undefined);
      return this.acquire(target, runId);
    }
    try {
      // Re-read under the mutex: the lock may have changed hands since we judged it stale.
      const current = await this.holder(target);
      if (current && (current.runId !== stale.runId || current.pid !== stale.pid) && !this.isStale(current)) {
        return { acquired: false, holder: current };
      }
      await writeFileAtomic(path, JSON.stringify(this.me(runId)));
      return { acquired: true, takenOverFrom: stale };
    } finally {
      await rmdir(mutex).catch(() => undefined);
    }
  }

  private async createExclusive(path: string, holder: LockHolder): Promise<boolean> {
    let fh;
    try {
      fh = await open(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      await fh.writeFile(JSON.stringify(holder), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    return true;
  }

  async renew(target: string, runId: string): Promise<void> {
    const holder = await this.holder(target);
    if (!holder || holder.runId !== runId) {
      throw new LockLostError(
        `the lock on target "${target}" is ${holder ? `held by run ${holder.runId}` : 'gone'}; run ${runId} no longer holds it`,
      );
    }
    await writeFileAtomic(this.path(target), JSON.stringify(this.me(runId)));
  }

  async release(target: string, runId: string): Promise<void> {
    const holder = await this.holder(target);
    if (holder?.runId === runId) await rm(this.path(target), { force: true });
  }

  async forceRelease(target: string): Promise<LockHolder | undefined> {
    const holder = await this.holder(target);
    await rm(this.path(target), { force: true });
    return holder;
  }

  async holder(target: string): Promise<LockHolder | undefined> {
    const text = await readFileIfExists(this.path(target));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as LockHolder;
    } catch {
      // A lock file torn by a crash between create and write: treat it as held by a dead process, hence stale.
      return { runId: 'unknown', pid: -1, host: this.host, leaseExpiresAt: new Date(0).toISOString() };
    }
  }
}

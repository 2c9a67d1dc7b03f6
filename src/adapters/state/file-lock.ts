import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ForcedRelease, LockAcquisition, LockHolder, TargetLock } from '../ports.js';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';
import { LockIdentity, type LockIdentityOptions } from './lock-rules.js';
import { stateWriteError } from './run-format.js';

/** Options of {@link FileTargetLock}. */
export type FileTargetLockOptions = LockIdentityOptions;

/** Another holder changed the lock under us. */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
}

/** How long a takeover mutex may stand before it counts as left behind by a process that died holding it. */
const MUTEX_STALE_MS = 30_000;

/**
 * One run per target (I5), as `locks/<target>.json` under the state directory. Creation uses O_EXCL, so two runs
 * starting at once cannot both win; replacing a stale holder (a takeover, or `unlock --force`) is serialised by a
 * `mkdir` mutex beside it, so two runs resuming at once cannot both take it over.
 */
export class FileTargetLock implements TargetLock {
  private readonly me: LockIdentity;

  /** @param stateDir the state directory; locks live in `<stateDir>/locks/`. */
  constructor(
    readonly stateDir: string,
    opts: FileTargetLockOptions = {},
  ) {
    this.me = new LockIdentity(opts);
  }

  private path(target: string): string {
    return join(this.stateDir, 'locks', `${encodeURIComponent(target)}.json`);
  }

  /** A holder is stale when its process on this host is gone (at once), or when its lease ran out (any host). */
  isStale(holder: LockHolder): boolean {
    return this.me.isStale(holder);
  }

  async acquire(target: string, runId: string): Promise<LockAcquisition> {
    const path = this.path(target);
    let created: boolean;
    try {
      await mkdir(join(this.stateDir, 'locks'), { recursive: true, mode: 0o700 });
      created = await this.createExclusive(path, this.me.holderFor(runId));
    } catch (err) {
      // The first write of a run: a state directory the OS refuses is said with what to do, not as a raw errno.
      throw stateWriteError(err, this.stateDir);
    }
    if (created) return { acquired: true };

    const holder = await this.holder(target);
    if (!holder) {
      // The holder released between our create and our read: try once more, as a fresh start.
      return (await this.createExclusive(path, this.me.holderFor(runId)))
        ? { acquired: true }
        : this.acquire(target, runId);
    }
    if (this.me.isMe(holder, runId)) {
      // Re-acquiring a lock this very process holds is idempotent: renew the lease. The same run held by another
      // live process (a `resume` while the rotation still runs) is refused below like any other holder, or taken
      // over when that process is gone: two processes must never drive one run at once (I5).
      await writeFileAtomic(path, JSON.stringify(this.me.holderFor(runId)));
      return { acquired: true };
    }
    if (!this.isStale(holder)) return { acquired: false, holder };
    return this.takeOver(target, runId, holder);
  }

  /**
   * Runs `task` holding the takeover mutex of `target`; `busy` when another process holds it now. A mutex older
   * than {@link MUTEX_STALE_MS} was left by a process that died holding it: it is removed and tried again once.
   */
  private async withMutex<T>(target: string, task: () => Promise<T>, retried = false): Promise<T | 'busy'> {
    const mutex = `${this.path(target)}.takeover`;
    try {
      await mkdir(mutex);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = this.me.clock.now() - (await stat(mutex)).mtimeMs;
      if (age < MUTEX_STALE_MS || retried) return 'busy';
      await rmdir(mutex).catch(() => undefined);
      return this.withMutex(target, task, true);
    }
    try {
      return await task();
    } finally {
      await rmdir(mutex).catch(() => undefined);
    }
  }

  private async takeOver(target: string, runId: string, stale: LockHolder): Promise<LockAcquisition> {
    const result = await this.withMutex(target, async (): Promise<LockAcquisition> => {
      // Re-read under the mutex: the lock may have changed hands since we judged it stale.
      const current = await this.holder(target);
      if (current && (current.runId !== stale.runId || current.pid !== stale.pid) && !this.isStale(current)) {
        return { acquired: false, holder: current };
      }
      await writeFileAtomic(this.path(target), JSON.stringify(this.me.holderFor(runId)));
      return { acquired: true, takenOverFrom: stale };
    });
    // Someone else is taking it over right now.
    return result === 'busy' ? { acquired: false, holder: stale } : result;
  }

  /**
   * Creates the lock file with `holder` unless it exists. The record is written and flushed under a temp name first
   * and then hard-linked into place (link fails with EEXIST when the lock exists), so the lock file never exists
   * empty: with O_EXCL and a write after it, a racer could read the new file before its content, judge it torn and
   * stale, and take it over too — two holders (seen under load with six processes racing for a free lock).
   */
  private async createExclusive(path: string, holder: LockHolder): Promise<boolean> {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(holder), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async renew(target: string, runId: string): Promise<void> {
    const holder = await this.holder(target);
    if (!holder || holder.runId !== runId) {
      throw new LockLostError(
        `the lock on target "${target}" is ${holder ? `held by run ${holder.runId}` : 'gone'}; run ${runId} no longer holds it`,
      );
    }
    await writeFileAtomic(this.path(target), JSON.stringify(this.me.holderFor(runId)));
  }

  async release(target: string, runId: string): Promise<void> {
    const holder = await this.holder(target);
    if (holder?.runId === runId) await rm(this.path(target), { force: true });
  }

  async forceRelease(target: string): Promise<ForcedRelease> {
    const seen = await this.holder(target);
    if (!seen) return { status: 'notLocked' };
    const result = await this.withMutex(target, async (): Promise<ForcedRelease> => {
      // Judge again under the mutex, on what the file holds now: only a holder found gone at this moment is removed.
      const holder = await this.holder(target);
      if (!holder) return { status: 'notLocked' };
      const verdict = this.me.forceReleaseVerdict(holder);
      if (verdict !== 'removable') return { status: 'refused', holder, reason: verdict };
      await rm(this.path(target), { force: true });
      return { status: 'removed', holder };
    });
    return result === 'busy' ? { status: 'refused', holder: seen, reason: 'takeoverInProgress' } : result;
  }

  async holder(target: string): Promise<LockHolder | undefined> {
    const text = await readFileIfExists(this.path(target));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as LockHolder;
    } catch {
      // A lock file torn by a crash between create and write: treat it as held by a dead process, hence stale.
      return { runId: 'unknown', pid: -1, host: this.me.host, leaseExpiresAt: new Date(0).toISOString() };
    }
  }
}

import type { ForcedRelease, LockAcquisition, LockHolder, TargetLock } from '../ports.js';
import { LockLostError } from './file-lock.js';
import { LockIdentity, type LockIdentityOptions } from './lock-rules.js';

/**
 * Target locks in memory, for tests and benchmarks: the holders live in a map shared by every instance that contends
 * for the same locks, and each instance stands for one process ({@link LockIdentityOptions}). Every
 * operation reads and writes the map in one synchronous step, so it is atomic the way O_EXCL and a mutex make the
 * file lock atomic; the holder rules are the file lock's ({@link LockIdentity}).
 */
export class MemoryTargetLock implements TargetLock {
  private readonly me: LockIdentity;

  /** @param holders the lock records by target; share it between instances that contend for the same locks. */
  constructor(
    readonly holders: Map<string, LockHolder> = new Map(),
    opts: LockIdentityOptions = {},
  ) {
    this.me = new LockIdentity(opts);
  }

  async acquire(target: string, runId: string): Promise<LockAcquisition> {
    const holder = this.holders.get(target);
    if (!holder || this.me.isMe(holder, runId)) {
      this.holders.set(target, this.me.holderFor(runId));
      return { acquired: true };
    }
    if (!this.me.isStale(holder)) return { acquired: false, holder: { ...holder } };
    this.holders.set(target, this.me.holderFor(runId));
    return { acquired: true, takenOverFrom: { ...holder } };
  }

  async renew(target: string, runId: string): Promise<void> {
    const holder = this.holders.get(target);
    if (!holder || holder.runId !== runId) {
      throw new LockLostError(
        `the lock on target "${target}" is ${holder ? `held by run ${holder.runId}` : 'gone'}; run ${runId} no longer holds it`,
      );
    }
    this.holders.set(target, this.me.holderFor(runId));
  }

  async release(target: string, runId: string): Promise<void> {
    if (this.holders.get(target)?.runId === runId) this.holders.delete(target);
  }

  async forceRelease(target: string): Promise<ForcedRelease> {
    const holder = this.holders.get(target);
    if (!holder) return { status: 'notLocked' };
    const verdict = this.me.forceReleaseVerdict(holder);
    if (verdict !== 'removable') return { status: 'refused', holder: { ...holder }, reason: verdict };
    this.holders.delete(target);
    return { status: 'removed', holder: { ...holder } };
  }

  async holder(target: string): Promise<LockHolder | undefined> {
    const holder = this.holders.get(target);
    return holder ? { ...holder } : undefined;
  }
}

/**
 * The target locks of `state.kind: azure-blob`: one blob per target under `<prefix>locks/`, held by a blob lease
 * (15–60 s, renewed while the run is active) whose id is derived from the run id ({@link leaseIdOf}), and whose
 * metadata names the holder (run id, host, pid, since, lease end). Every change of holder is a compare-and-swap on
 * the lock blob's ETag: the lease says *whether* someone holds it, the ETag-conditioned metadata write *who* won.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { ForcedRelease, LockAcquisition, LockHolder, TargetLock } from '../ports.js';
import {
  leaseIdOf,
  blobStateError,
  codeOf,
  isConflict,
  isNotFound,
  isPreconditionFailed,
} from './azure-blob-storage.js';
import { LockLostError } from './file-lock.js';
import { LockIdentity, type LockIdentityOptions } from './lock-rules.js';

/** Options of {@link BlobTargetLock}: who this process is, and its lease (15–60 s; default 60 s). */
export interface BlobTargetLockOptions extends LockIdentityOptions {
  /** Object-name prefix inside the container (`""` or ending in `/`). */
  prefix?: string;
  /** Waits between looks while another acquirer is between its lease and its metadata write (default 25 ms). */
  settleMs?: number;
}

/** What storage says of one lock blob. */
interface LockBlob {
  etag: string;
  /** A lease is in force on the blob (leased, or breaking): writes need its id. */
  leased: boolean;
  holder?: LockHolder;
}

const LEASE_RANGE = [15_000, 60_000] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lock-blob metadata of `holder` (values percent-encoded: metadata is ASCII-only, a host name may not be). */
function metadataOf(holder: LockHolder, since: string): Record<string, string> {
  return {
    runid: encodeURIComponent(holder.runId),
    host: encodeURIComponent(holder.host),
    pid: String(holder.pid),
    since,
    leaseexpiresat: holder.leaseExpiresAt,
  };
}

function holderOf(metadata: Record<string, string> | undefined): LockHolder | undefined {
  if (!metadata?.runid) return undefined;
  return {
    runId: decodeURIComponent(metadata.runid),
    pid: Number(metadata.pid ?? -1),
    host: decodeURIComponent(metadata.host ?? ''),
    leaseExpiresAt: metadata.leaseexpiresat ?? new Date(0).toISOString(),
  };
}

/**
 * One run per target (I5) across agents that share nothing but the container. A holder that stops renewing loses
 * the lock when its lease expires on the storage side; a holder whose own record says its lease is over (by this
 * process's clock), or whose process on this host is gone, is taken over at once by changing its lease to ours —
 * the same rules as the file lock ({@link LockIdentity}). Judging by the record relies on clocks agreeing within
 * the renewal slack (a holder renews every ~20 s of a 60 s lease, so its record is ≥ 40 s ahead of its clock).
 */
export class BlobTargetLock implements TargetLock {
  private readonly me: LockIdentity;
  private readonly prefix: string;
  private readonly leaseSeconds: number;
  private readonly settleMs: number;
  /** Lock blobs this instance knows exist (created once per target). */
  private readonly known = new Set<string>();

  constructor(
    readonly container: ContainerClient,
    opts: BlobTargetLockOptions = {},
  ) {
    const leaseMs = opts.leaseMs ?? 60_000;
    if (leaseMs < LEASE_RANGE[0] || leaseMs > LEASE_RANGE[1]) {
      throw new RangeError(`a blob lease lasts 15 to 60 seconds; got ${leaseMs / 1000} s`);
    }
    this.me = new LockIdentity({ ...opts, leaseMs });
    this.prefix = opts.prefix ?? '';
    this.leaseSeconds = Math.round(leaseMs / 1000);
    this.settleMs = opts.settleMs ?? 25;
  }

  /** How long a lease lasts; the runner renews at a third of it. */
  get leaseMs(): number {
    return this.me.leaseMs;
  }

  private name(target: string): string {
    return `${this.prefix}locks/${encodeURIComponent(target)}`;
  }

  private blob(target: string) {
    return this.container.getBlockBlobClient(this.name(target));
  }

  private where(target: string): string {
    return `${this.container.url}/${this.name(target)}`;
  }

  /** Creates the empty lock blob unless it exists (If-None-Match: *; an existing one is left alone). */
  private async ensure(target: string): Promise<void> {
    if (this.known.has(target)) return;
    try {
      await this.blob(target).upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (err) {
      // 409 BlobAlreadyExists, or 412 when it is leased (Azurite and Azure differ, fleet-state §3.4): it exists.
      if (!isConflict(err) && !isPreconditionFailed(err))
        throw blobStateError('creating a lock', this.where(target), err);
    }
    this.known.add(target);
  }

  private async read(target: string): Promise<LockBlob | undefined> {
    try {
      const p = await this.blob(target).getProperties();
      const holder = holderOf(p.metadata);
      return {
        etag: p.etag ?? '',
        leased: p.leaseState === 'leased' || p.leaseState === 'breaking',
        ...(holder ? { holder } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw blobStateError(`reading the lock of target "${target}"`, this.where(target), err);
    }
  }

  /**
   * Writes `holder` as the lock's metadata under lease `leaseId`, only if the blob is still at `etag`. False when it
   * moved (another acquirer won the swap) or the lease is no longer ours.
   */
  private async record(target: string, leaseId: string, etag: string, holder: LockHolder): Promise<boolean> {
    try {
      await this.blob(target).setMetadata(metadataOf(holder, new Date(this.me.clock.now()).toISOString()), {
        conditions: { leaseId, ifMatch: etag },
      });
      return true;
    } catch (err) {
      if (isPreconditionFailed(err) || isConflict(err)) return false;
      throw blobStateError(`recording the holder of target "${target}"`, this.where(target), err);
    }
  }

  async acquire(target: string, runId: string): Promise<LockAcquisition> {
    await this.ensure(target);
    const mine = leaseIdOf(runId);
    // Each pass reads the lock and tries one swap; a lost swap reads again. Bounded: a loser sees the winner's
    // record within a pass or two (the winner writes it right after its lease).
    for (let pass = 0; pass < 200; pass++) {
      const lock = await this.read(target);
      if (!lock) {
        this.known.delete(target);
        await this.ensure(target);
        continue;
      }
      const current = lock.holder;
      const isMine = current !== undefined && this.me.isMe(current, runId);
      if (lock.leased && !isMine) {
        if (!current) {
          // Leased, no record yet: another acquirer is between its lease and its metadata write. Look again.
          await sleep(this.settleMs);
          continue;
        }
        if (!this.me.isStale(current)) return { acquired: false, holder: current };
      }
      try {
        const lease = this.blob(target).getBlobLeaseClient(lock.leased ? leaseIdOf(current!.runId) : mine);
        if (lock.leased && current!.runId !== runId) {
          // Take the stale holder's lease over: only one of many racers can change it from that id.
          await lease.changeLease(mine, { conditions: { ifMatch: lock.etag } });
        }
        await this.blob(target)
          .getBlobLeaseClient(mine)
          .acquireLease(this.leaseSeconds, { conditions: { ifMatch: lock.etag } });
      } catch (err) {
        if (isConflict(err) || isPreconditionFailed(err)) {
          await sleep(this.settleMs);
          continue;
        }
        throw blobStateError(`taking the lock of target "${target}"`, this.where(target), err);
      }
      if (!(await this.record(target, mine, lock.etag, this.me.holderFor(runId)))) continue;
      return current && !isMine ? { acquired: true, takenOverFrom: current } : { acquired: true };
    }
    const holder = (await this.read(target))?.holder;
    if (holder) return { acquired: false, holder };
    throw blobStateError(`taking the lock of target "${target}"`, this.where(target), new Error('kept changing'));
  }

  async renew(target: string, runId: string): Promise<void> {
    const lock = await this.read(target);
    const lost = (why: string) =>
      new LockLostError(`the lock on target "${target}" is ${why}; run ${runId} no longer holds it`);
    if (!lock?.holder) throw lost('gone');
    if (lock.holder.runId !== runId) throw lost(`held by run ${lock.holder.runId}`);
    const leaseId = leaseIdOf(runId);
    try {
      await this.blob(target).getBlobLeaseClient(leaseId).renewLease();
    } catch (err) {
      // 409: broken (`unlock --break-lease`), or expired and since changed hands: the lease is not ours any more.
      if (isConflict(err) || isPreconditionFailed(err)) throw lost(`no longer leased to it (${codeOf(err) ?? 'lost'})`);
      throw blobStateError(`renewing the lock of target "${target}"`, this.where(target), err);
    }
    if (!(await this.record(target, leaseId, lock.etag, this.me.holderFor(runId)))) {
      throw lost('changed by another process during the renewal');
    }
  }

  async release(target: string, runId: string): Promise<void> {
    const lock = await this.read(target);
    if (!lock?.holder || !this.me.isMe(lock.holder, runId)) return;
    const leaseId = leaseIdOf(runId);
    try {
      if (lock.leased) {
        await this.blob(target).setMetadata({}, { conditions: { leaseId, ifMatch: lock.etag } });
        await this.blob(target).getBlobLeaseClient(leaseId).releaseLease();
      } else {
        await this.blob(target).setMetadata({}, { conditions: { ifMatch: lock.etag } });
      }
    } catch (err) {
      // The lock changed hands meanwhile (a takeover after our lease ran out): it is not ours to release.
      if (isConflict(err) || isPreconditionFailed(err)) return;
      throw blobStateError(`releasing the lock of target "${target}"`, this.where(target), err);
    }
  }

  /**
   * `unlock --force`: clears the lock of a holder that is gone (the {@link LockIdentity} rules). With `breakLease`
   * (`--break-lease`, or `--force` twice) the lease is broken whatever the holder — a live holder's next renewal
   * then fails and it stops at its next step boundary.
   */
  async forceRelease(target: string, opts: { breakLease?: boolean } = {}): Promise<ForcedRelease> {
    const lock = await this.read(target);
    if (!lock || (!lock.holder && !lock.leased)) return { status: 'notLocked' };
    const holder: LockHolder = lock.holder ?? {
      runId: 'unknown',
      pid: -1,
      host: 'unknown',
      leaseExpiresAt: new Date(this.me.clock.now() + this.me.leaseMs).toISOString(),
    };
    if (!opts.breakLease && lock.leased) {
      const verdict = this.me.forceReleaseVerdict(holder);
      if (verdict !== 'removable') return { status: 'refused', holder, reason: verdict };
    }
    try {
      if (lock.leased) await this.blob(target).getBlobLeaseClient().breakLease(0);
      await this.blob(target).setMetadata({}, { conditions: { ifMatch: lock.etag } });
    } catch (err) {
      if (isConflict(err) || isPreconditionFailed(err)) {
        return { status: 'refused', holder, reason: 'takeoverInProgress' };
      }
      throw blobStateError(`unlocking target "${target}"`, this.where(target), err);
    }
    return { status: 'removed', holder };
  }

  async holder(target: string): Promise<LockHolder | undefined> {
    return (await this.read(target))?.holder;
  }
}

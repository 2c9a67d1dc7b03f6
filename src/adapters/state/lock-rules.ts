/**
 * When a target lock's holder counts as gone, shared by every lock backend so that they all judge a holder alike:
 * a process on this host is checked directly, a process elsewhere only through its lease.
 */
import { hostname } from 'node:os';
import type { Clock, LockHolder } from '../ports.js';

/** Who takes locks, and how long their leases last. */
export interface LockIdentityOptions {
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

/** Whether a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
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

/** This process as a lock holder: its host, pid and lease, and the rules by which it judges other holders. */
export class LockIdentity {
  readonly leaseMs: number;
  readonly clock: Pick<Clock, 'now'>;
  readonly host: string;
  readonly pid: number;
  private readonly isAlive: (pid: number) => boolean;

  constructor(opts: LockIdentityOptions = {}) {
    this.leaseMs = opts.leaseMs ?? 10 * 60_000;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.host = opts.host ?? hostname();
    this.pid = opts.pid ?? process.pid;
    this.isAlive = opts.isProcessAlive ?? processAlive;
  }

  /** The record this process writes when it holds (or renews) the lock for `runId`. */
  holderFor(runId: string): LockHolder {
    return {
      runId,
      pid: this.pid,
      host: this.host,
      leaseExpiresAt: new Date(this.clock.now() + this.leaseMs).toISOString(),
    };
  }

  /** True when `holder` is this very process holding it for `runId` (re-acquiring is then idempotent). */
  isMe(holder: LockHolder, runId: string): boolean {
    return holder.runId === runId && holder.pid === this.pid && holder.host === this.host;
  }

  /** A holder is stale when its process on this host is gone (at once), or when its lease ran out (any host). */
  isStale(holder: LockHolder): boolean {
    if (holder.host === this.host && holder.pid !== this.pid && !this.isAlive(holder.pid)) return true;
    return Date.parse(holder.leaseExpiresAt) <= this.clock.now();
  }

  /**
   * Whether `unlock --force` may remove `holder`: stricter than {@link isStale}, because a person asked without
   * knowing what runs. On this host the process decides (alive: refused, even past its lease — it may be paused,
   * and would go on driving the run); on another host, whose processes cannot be seen, only an expired lease does.
   */
  forceReleaseVerdict(holder: LockHolder): 'removable' | 'processAlive' | 'leaseActive' {
    if (holder.host === this.host) {
      return holder.pid === this.pid || this.isAlive(holder.pid) ? 'processAlive' : 'removable';
    }
    return Date.parse(holder.leaseExpiresAt) <= this.clock.now() ? 'removable' : 'leaseActive';
  }
}

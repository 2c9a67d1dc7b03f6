/**
 * Reads lag writes in the directory (graph-entra §3.3): after a write, poll until the change is seen several times in
 * a row, as the Terraform provider does, bounded so that a slow replica never hangs a step.
 */
import type { Clock } from '../ports.js';

/** How long and how often to poll after a write. */
export interface ConsistencyOptions {
  /** Consecutive reads that must show the change (default 3). */
  consecutive: number;
  /** Pause between reads, ms (default 1000). */
  intervalMs: number;
  /** Give up after this long, ms (default 60 000). */
  timeoutMs: number;
}

export const DEFAULT_CONSISTENCY: ConsistencyOptions = { consecutive: 3, intervalMs: 1000, timeoutMs: 60_000 };

/** The outcome of {@link awaitConsistentRead}. */
export interface ConsistentRead<T> {
  /** True when `consecutive` reads in a row satisfied the predicate before the timeout. */
  settled: boolean;
  /** The last value read. */
  last: T;
  reads: number;
}

/**
 * Reads with `read` until `satisfied` holds for `consecutive` reads in a row, or `timeoutMs` of `clock` time passed.
 * A read that throws ends the wait with that error. Read-only, so safe to repeat.
 */
export async function awaitConsistentRead<T>(
  read: () => Promise<T>,
  satisfied: (value: T) => boolean,
  clock: Clock,
  options: ConsistencyOptions = DEFAULT_CONSISTENCY,
  signal?: AbortSignal,
): Promise<ConsistentRead<T>> {
  const deadline = clock.now() + options.timeoutMs;
  let streak = 0;
  let reads = 0;
  for (;;) {
    const last = await read();
    reads++;
    streak = satisfied(last) ? streak + 1 : 0;
    if (streak >= options.consecutive) return { settled: true, last, reads };
    if (clock.now() + options.intervalMs > deadline) return { settled: false, last, reads };
    await clock.sleep(options.intervalMs, signal);
  }
}

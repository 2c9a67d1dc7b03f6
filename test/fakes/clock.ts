import type { Clock } from '../../src/adapters/ports.js';

/** A simulated clock: `sleep` moves time forward at once, so backoff and propagation cost no real time. */
export class FakeClock implements Clock {
  private t: number;
  /** Every sleep asked for, in ms, to assert backoff. */
  readonly sleeps: number[] = [];

  constructor(start = Date.parse('2026-01-01T00:00:00.000Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  advance(ms: number): void {
    this.t += ms;
  }

  /** Makes the next N sleeps reject (a timer that failed), to drive a sleep actor's error path. */
  failNextSleeps = 0;

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (this.failNextSleeps > 0) {
      this.failNextSleeps -= 1;
      return Promise.reject(new Error('timer failed'));
    }
    this.sleeps.push(ms);
    this.t += Math.max(0, ms);
    return Promise.resolve();
  }
}

function abortError(): Error {
  const error = new Error('aborted');
  error.name = 'AbortError';
  return error;
}

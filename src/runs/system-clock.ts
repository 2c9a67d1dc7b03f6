import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../adapters/ports.js';

/** The wall clock. Sleeps reject with an AbortError when the signal aborts (Ctrl-C stops a backoff wait at once). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleep(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  },
};

import { describe, expect, it } from 'vitest';
import { awaitConsistentRead } from '../../../src/adapters/azure/consistency.js';
import { FakeClock } from '../../fakes/clock.js';

describe('awaitConsistentRead', () => {
  const options = { consecutive: 3, intervalMs: 1000, timeoutMs: 10_000 };

  it('needs the change seen several reads in a row: a flapping replica resets the streak', async () => {
    const clock = new FakeClock();
    const seen = [false, true, false, true, true, true, true];
    let i = 0;
    const r = await awaitConsistentRead(
      async () => seen[i++] ?? true,
      (v) => v,
      clock,
      options,
    );
    expect(r).toMatchObject({ settled: true, reads: 6 });
    expect(clock.sleeps).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  it('gives up at the deadline and reports the last read', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const r = await awaitConsistentRead(
      async () => 'old',
      (v) => v === 'new',
      clock,
      options,
    );
    expect(r.settled).toBe(false);
    expect(r.last).toBe('old');
    expect(clock.now() - start).toBeLessThanOrEqual(options.timeoutMs);
    expect(r.reads).toBe(11);
  });

  it('lets a failing read end the wait with its error', async () => {
    const clock = new FakeClock();
    await expect(
      awaitConsistentRead(
        async () => Promise.reject(new Error('boom')),
        () => true,
        clock,
        options,
      ),
    ).rejects.toThrow('boom');
  });
});

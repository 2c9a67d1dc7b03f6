/**
 * Graph's read-lag window in a retried write (issue 10 defect 4): the wait is announced as a `waiting` event with
 * what it waits for and until when, its length comes from the timing (`defaults.readSettle`), and it is skipped when
 * the previous attempt provably wrote nothing.
 */
import { describe, expect, it } from 'vitest';
import { ProgressLines } from '../../../src/commands/progress.js';
import type { RunEvent } from '../../../src/runs/events.js';
import { provablyNotWritten, READ_LAG_WAIT } from '../../../src/runs/steps/step-ports.js';
import { UNAVAILABLE } from '../../fakes/faults.js';
import { driveInWorld } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

async function attachAfterFailure(error: Parameters<FakeWorld['faults']['add']>[0]['error'], readSettleMs = 120_000) {
  const world = new FakeWorld();
  world.faults.add({ call: 'apps.addKey', mode: 'fail', error });
  const events: RunEvent[] = [];
  const { result } = await driveInWorld(world, {
    observers: [{ onEvent: (e) => events.push(e) }],
    timing: { readSettleMs, readPollMs: 10_000 },
  });
  return { result, events, world };
}

describe('the read-settle wait of a retried addKey', () => {
  it('after an ambiguous 503 says what it waits for and until when, then retries once the window has passed', async () => {
    const { result, events } = await attachAfterFailure(UNAVAILABLE);
    expect(result.outcome).toBe('succeeded');
    const attach = events.filter((e) => 'step' in e && e.step === 'attachKeyCredential');
    const types = attach.map((e) => e.type);
    expect(types).toEqual(['stepStarted', 'retrying', 'attemptStarted', 'waiting', 'stepDone']);
    const waiting = attach.find((e) => e.type === 'waiting')!;
    const started = attach.find((e) => e.type === 'attemptStarted')!;
    expect(waiting).toMatchObject({ for: READ_LAG_WAIT, inStep: true });
    if (waiting.type !== 'waiting') throw new Error('not a wait');
    expect(waiting.until! - started.at).toBe(120_000);
    const lines = new ProgressLines();
    const shown = attach.map((e) => lines.line(e)).filter(Boolean);
    expect(shown).toContain(
      `… attachKeyCredential waiting — for Graph's read-lag window before trusting that the key is absent until ${new Date(waiting.until!).toISOString()}`,
    );
    // The step took the window and not a moment of silence longer: done once the window has passed.
    const done = attach.find((e) => e.type === 'stepDone')!;
    expect(done.at).toBeGreaterThanOrEqual(waiting.until!);
  });

  it('takes its length from the configured window', async () => {
    const { events } = await attachAfterFailure(UNAVAILABLE, 30_000);
    const waiting = events.find((e) => e.type === 'waiting' && e.step === 'attachKeyCredential');
    const started = events.find((e) => e.type === 'attemptStarted' && e.step === 'attachKeyCredential');
    if (waiting?.type !== 'waiting' || !started) throw new Error('no wait');
    expect(waiting.until! - started.at).toBe(30_000);
  });

  it('does not wait when the previous attempt never reached Graph (connection refused)', async () => {
    const refused = { code: 'unavailable', message: 'ECONNREFUSED', retryable: true, notSent: true as const };
    const { result, events } = await attachAfterFailure(refused);
    expect(result.outcome).toBe('succeeded');
    const attach = events.filter((e) => 'step' in e && e.step === 'attachKeyCredential').map((e) => e.type);
    expect(attach).toEqual(['stepStarted', 'retrying', 'attemptStarted', 'stepDone']);
  });

  it('knows which failures provably wrote nothing', () => {
    expect(provablyNotWritten(undefined)).toBe(false);
    expect(provablyNotWritten(UNAVAILABLE)).toBe(false);
    expect(provablyNotWritten({ code: 'timeout', message: 'x', retryable: true, status: 408 })).toBe(false);
    expect(provablyNotWritten({ code: 'throttled', message: 'x', retryable: true, status: 429 })).toBe(false);
    expect(provablyNotWritten({ code: 'timeout', message: 'x', retryable: true })).toBe(false);
    expect(provablyNotWritten({ code: 'invalidRequest', message: 'x', retryable: false, status: 400 })).toBe(true);
    expect(provablyNotWritten({ code: 'forbidden', message: 'x', retryable: false, status: 403 })).toBe(true);
    expect(provablyNotWritten({ code: 'unavailable', message: 'x', retryable: true, notSent: true })).toBe(true);
  });
});

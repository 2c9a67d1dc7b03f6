/**
 * The journal as a run observer (src/runs/observers/journal.ts): structured fields instead of sentences and clipped
 * JSON, the audit facts of an invocation, and the words `show` prints for new and old lines.
 */
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/runs/events.js';
import {
  journalLines,
  journalLineText,
  journalObserver,
  redactArgv,
  type JournalDraft,
} from '../../../src/runs/observers/journal.js';
import { driveInWorld } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

const AT = Date.parse('2026-01-01T00:00:00.000Z');

describe('journal observer', () => {
  it('writes a retry as a failed line and a retrying line with attempt, wait, until and code as fields', () => {
    const event: RunEvent = {
      type: 'retrying',
      at: AT,
      step: 'awaitPropagation',
      failedAttempt: 1,
      attempt: 2,
      waitMs: 10_000,
      until: AT + 10_000,
      code: 'keyNotFound',
      error: { code: 'keyNotFound', message: 'AADSTS700027', retryable: true, requestId: 'req-1' },
      newThumbprint: 'B'.repeat(40),
    };
    expect(journalLines(event)).toEqual([
      {
        time: '2026-01-01T00:00:00.000Z',
        newThumbprint: 'B'.repeat(40),
        step: 'awaitPropagation',
        event: 'failed',
        attempt: 1,
        detail: { code: 'keyNotFound', message: 'AADSTS700027', retryable: true },
        requestIds: ['req-1'],
      },
      {
        time: '2026-01-01T00:00:00.000Z',
        newThumbprint: 'B'.repeat(40),
        step: 'awaitPropagation',
        event: 'retrying',
        attempt: 2,
        waitMs: 10_000,
        until: '2026-01-01T00:00:10.000Z',
        code: 'keyNotFound',
      },
    ]);
    expect(journalLineText({ ...journalLines(event)[1]!, runId: 'r', target: 't' })).toBe(
      'attempt 2 in 10000 ms after keyNotFound',
    );
  });

  it('keeps a step result whole, as JSON, however long', () => {
    const long = { keySet: Array.from({ length: 40 }, (_, i) => ({ keyId: `key-${i}`, thumbprint: 'A'.repeat(40) })) };
    const [line] = journalLines({
      type: 'stepDone',
      at: AT,
      step: 'detectPlatformKey',
      result: long,
      attempts: 1,
      skipped: false,
    });
    expect(JSON.stringify(line!.result).length).toBeGreaterThan(300);
    expect(line!.result).toEqual(long);
    expect(line).not.toHaveProperty('detail');
  });

  it('records the invocation of a run: mode, argv, how it was approved, plan and --force', () => {
    const [line] = journalLines({
      type: 'runStarted',
      at: AT,
      target: 'contoso-api',
      invocation: {
        mode: 'rotate',
        argv: ['rotate', 'contoso-api', '--plan', 'p.json', '--force'],
        confirmation: 'plan',
        planFile: 'p.json',
        planFingerprint: 'sha256:abc',
        force: true,
      },
    });
    expect(line).toMatchObject({
      step: 'run',
      event: 'started',
      detail: 'rotate contoso-api --plan p.json --force',
      mode: 'rotate',
      argv: ['rotate', 'contoso-api', '--plan', 'p.json', '--force'],
      confirmation: 'plan',
      planFile: 'p.json',
      planFingerprint: 'sha256:abc',
      force: true,
    });
    const [resumed] = journalLines({
      type: 'runResumed',
      at: AT,
      invocation: { mode: 'resume', argv: ['resume', 'r-1', '--yes'], confirmation: 'yes' },
    });
    expect(resumed).toMatchObject({ step: 'run', event: 'resumed', mode: 'resume', confirmation: 'yes' });
  });

  it('redacts secret-looking option values in the recorded command line', () => {
    expect(redactArgv(['sandbox', 'start', '--client-secret', 's3cr3t', '--token=abc', '--dir', 'd'])).toEqual([
      'sandbox',
      'start',
      '--client-secret',
      '[REDACTED]',
      '--token=[REDACTED]',
      '--dir',
      'd',
    ]);
  });

  it('still reads lines of the old text form', () => {
    const old = { time: '2026-01-01T00:00:00.000Z', runId: 'r', target: 't', step: 'awaitPropagation' };
    expect(journalLineText({ ...old, event: 'retrying', detail: 'attempt 2 in 1999 ms after keyNotFound' })).toBe(
      'attempt 2 in 1999 ms after keyNotFound',
    );
    expect(journalLineText({ ...old, event: 'succeeded', detail: '{"tokenExpiresOn":"x"}' })).toBe(
      '{"tokenExpiresOn":"x"}',
    );
    expect(journalLineText({ ...old, event: 'failed', detail: { code: 'keyNotFound', message: 'no' } })).toBe(
      'keyNotFound: no',
    );
  });

  it('journals a full run in order, every line with a time, writes queued one after another', async () => {
    const written: JournalDraft[] = [];
    let inFlight = 0;
    let most = 0;
    const observer = journalObserver(async (line) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      written.push(line);
      inFlight--;
    });
    await driveInWorld(new FakeWorld(), { observers: [observer] });
    await observer.flush();
    expect(most).toBe(1);
    const trail = written.map((l) => `${l.step}:${l.event}`);
    expect(trail.filter((t) => t === 'generateCertificate:succeeded')).toHaveLength(1);
    expect(trail).toContain('generateCertificate:waiting');
    expect(trail.at(-1)).toBe('succeeded:succeeded');
    expect(written.every((l) => !Number.isNaN(Date.parse(l.time)))).toBe(true);
  });
});

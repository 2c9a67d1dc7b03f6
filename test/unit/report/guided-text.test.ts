/**
 * The words guided mode shows (src/commands/guided-text.ts): the plan note, retry lines, polls, the summary and the
 * next action. (Kept with the report tests: both turn run data into what an operator reads.)
 */
import { describe, expect, it } from 'vitest';
import {
  beforeAfter,
  confirmQuestion,
  nextAction,
  outcomeHeadline,
  planNoteLines,
  retryMessage,
  shortDuration,
  stepWording,
  stoppedAt,
  summaryLines,
} from '../../../src/commands/guided-text.js';
import type { RotationPlan } from '../../../src/machines/plan.js';
import type { StepName } from '../../../src/machines/rotation-types.js';
import type { RunDocument } from '../../../src/runs/runner.js';

const NOW = Date.parse('2026-11-28T08:00:00.000Z');
const OLD = 'A'.repeat(40);
const NEW = 'B'.repeat(40);

const plan: RotationPlan = {
  formatVersion: 1,
  target: 'contoso-api',
  kind: 'keyvault',
  fingerprint: 'sha256:x',
  steps: [
    {
      name: 'generateCertificate',
      action: 'create',
      summary: 'new version of Key Vault certificate contoso-s2s',
      before: { version: 'v1', thumbprint: OLD },
      after: { version: '(new)' },
    },
    {
      name: 'awaitPropagation',
      action: 'noChange',
      summary: 'acquire a token with the new key',
      before: null,
      after: null,
    },
    {
      name: 'installServerKey',
      action: 'modify',
      summary: 'install the new key on the server',
      before: { thumbprint: OLD },
      after: { thumbprint: '(new)' },
    },
    {
      name: 'retireOldKey',
      action: 'delete',
      summary: `remove old key ${OLD}`,
      before: { keyId: 'k1', thumbprint: OLD, expiresOn: '2026-12-28T08:00:00.000Z' },
      after: null,
    },
  ],
};

const doc = (over: Partial<RunDocument>): RunDocument => ({
  formatVersion: 1,
  runId: 'r-1',
  target: 'contoso-api',
  outcome: 'succeeded',
  oldThumbprint: OLD,
  newThumbprint: NEW,
  steps: [],
  state: 'succeeded',
  ...over,
});

describe('guided plan note', () => {
  it('opens with the key in use and its expiry, then groups steps by what they create, change and remove', () => {
    const lines = planNoteLines(plan, {
      now: NOW,
      current: { thumbprint: OLD, expiresOn: '2026-12-28T08:00:00.000Z' },
      newExpiresOn: '2028-11-28T08:00:00.000Z',
    });
    expect(lines[0]).toBe(`Key in use: ${OLD}, expires 2026-12-28 (30 days left)`);
    expect(lines[1]).toBe('New key:    expires about 2028-11-28');
    const text = lines.join('\n');
    const order = ['Will create:', 'Will change:', 'Will remove:', 'Checks (no change):'].map((h) => text.indexOf(h));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text).toContain(`+ generateCertificate: new version of Key Vault certificate contoso-s2s`);
    expect(text).toContain(`      ${OLD}, version v1 → version (new)`);
    expect(text).toContain(`      ${OLD}, expires 2026-12-28 → (removed)`);
    expect(text).toContain('= awaitPropagation: acquire a token with the new key');
  });

  it('says how long ago an expired key expired, and leaves out empty groups', () => {
    const lines = planNoteLines(
      { ...plan, steps: [plan.steps[3]!] },
      { now: NOW, current: { thumbprint: OLD, expiresOn: '2026-11-20T08:00:00.000Z' } },
    );
    expect(lines[0]).toContain('(expired 8 days ago)');
    expect(lines.join('\n')).not.toContain('Will create');
  });

  it('reduces before and after to thumbprints, versions, dates and states', () => {
    expect(beforeAfter({ before: { version: 'v1', enabled: true }, after: { version: 'v1', enabled: false } })).toBe(
      'version v1, enabled → version v1, disabled',
    );
    expect(beforeAfter({ before: null, after: null })).toBeUndefined();
  });
});

describe('guided progress words', () => {
  // The retry now arrives as a typed `retrying` event (attempt, waitMs, code), not as a line to parse; telling a poll
  // that found nothing yet from a finished step is the driver's (`waiting` vs `stepDone`): test/unit/runs/run-events.
  it('counts down to the next attempt of a retry', () => {
    const retry = { attempt: 2, waitMs: 10_000, code: 'keyNotFound' };
    expect(retryMessage('awaitPropagation', retry, 7_400)).toBe(
      'Wait for Entra ID to accept the new key: waiting for Entra ID to propagate the new key (a token signed with ' +
        'it); attempt 2 in 7s (after keyNotFound)',
    );
  });

  it('names every step and question the machine has, and falls back to the raw name', () => {
    for (const step of ['observeTarget', 'generateCertificate', 'attachKeyCredential', 'awaitPropagation']) {
      expect(stepWording(step).title).not.toBe(step);
    }
    for (const step of ['installServerKey', 'detectPlatformKey', 'verifyNewKey', 'retireOldKey', 'rollBackRotation']) {
      expect(stepWording(step).title).not.toBe(step);
    }
    for (const state of ['generating', 'attaching', 'installing', 'detectingPlatformKey', 'retiring', 'rollingBack']) {
      expect(confirmQuestion(state)).toMatch(/\?$/);
      expect(confirmQuestion(state)).not.toContain(state);
    }
    expect(stepWording('newStep')).toEqual({ title: 'newStep', waitingFor: 'newStep' });
    expect(confirmQuestion('newState')).toBe('Go ahead with newState?');
  });

  it('formats durations for a spinner line', () => {
    expect([400, 7_400, 65_000, 3_700_000, 90_000_000].map(shortDuration)).toEqual([
      '400ms',
      '7s',
      '1m 5s',
      '1h 1m',
      '1d 1h',
    ]);
  });
});

describe('guided summary and next action', () => {
  it('gives each outcome its headline and the command to type next', () => {
    expect(outcomeHeadline(doc({}))).toContain('Rotated contoso-api');
    expect(nextAction(doc({}))).toBe('Nothing more to do. The timeline: certrotate show r-1');
    const parked = doc({ outcome: 'awaitingOperator', next: 'certrotate resume r-1' });
    expect(outcomeHeadline(parked)).toBe('Parked: run r-1 waits for an operator');
    expect(nextAction(parked)).toBe('Continue with: certrotate resume r-1  (or withdraw it: certrotate rollback r-1)');
    // Named by the step's title, never by the machine's state (issue 10 defect 5: it said `attaching.running`).
    const interrupted = doc({
      outcome: null,
      state: 'attaching.running',
      next: 'certrotate resume r-1',
      steps: [{ name: 'attachKeyCredential', status: 'running', startedAt: '2026-11-28T08:00:00.000Z', attempts: 1 }],
    });
    expect(outcomeHeadline(interrupted)).toBe(
      'Interrupted during “Attach the new key to the app”: run r-1 can be resumed',
    );
    expect(nextAction(interrupted)).toBe('Resume with: certrotate resume r-1');
    expect(nextAction(doc({ outcome: 'failed' }))).toBe('See what happened: certrotate show r-1');
    expect(nextAction(doc({ outcome: 'awaitingRetirement', next: 'certrotate resume r-1' }))).toContain(
      'After the grace period',
    );
  });

  it('gives every command of the next action the --config in use', () => {
    const config = '/etc/certrotate/prod.yaml';
    expect(nextAction(doc({}), config)).toBe(
      `Nothing more to do. The timeline: certrotate show r-1 --config ${config}`,
    );
    const parked = doc({ outcome: 'awaitingOperator', next: `certrotate resume r-1 --config ${config}` });
    expect(nextAction(parked, config)).toBe(
      `Continue with: certrotate resume r-1 --config ${config}  (or withdraw it: certrotate rollback r-1 --config ${config})`,
    );
    expect(nextAction(doc({ outcome: 'superseded' }), config)).toBe(
      `Nothing more for this run to do; check the target with certrotate scan --config ${config}. ` +
        `The timeline: certrotate show r-1 --config ${config}`,
    );
    expect(nextAction(doc({ outcome: null }), config)).toBe(`Resume with: certrotate resume r-1 --config ${config}`);
  });

  it('lists the keys and each step with its status, time and attempts', () => {
    const lines = summaryLines(
      doc({
        steps: [
          {
            name: 'awaitPropagation',
            status: 'succeeded',
            startedAt: '2026-11-28T08:00:00.000Z',
            endedAt: '2026-11-28T08:00:12.000Z',
            attempts: 2,
          },
          { name: 'verifyNewKey', status: 'failed', startedAt: '2026-11-28T08:00:12.000Z', attempts: 1 },
        ],
        message: 'verification failed',
      }),
    );
    expect(lines.slice(0, 3)).toEqual(['Run:     r-1', `Old key: ${OLD}`, `New key: ${NEW}`]);
    expect(lines).toContain('✓ Wait for Entra ID to accept the new key  succeeded 12s, 2 attempts');
    expect(lines).toContain(`✗ ${'Verify the new key'.padEnd(39)}  failed`);
    expect(lines.at(-1)).toBe('verification failed');
  });
});

describe('truthful guided words (issue 10 defect 5)', () => {
  const running = (name: StepName, status: 'running' | 'retrying' = 'running') => ({
    name,
    status,
    startedAt: '2026-11-28T08:00:00.000Z',
    attempts: 1,
  });

  it('says where an unfinished run stopped in words: the step at work, the question, or the retry wait', () => {
    expect(stoppedAt({ state: 'installing.running', steps: [running('installServerKey')] })).toBe(
      'during “Install the new key on the server”',
    );
    expect(stoppedAt({ state: 'retiring.confirming', steps: [running('verifyNewKey')] })).toBe(
      'at the question “Retire the old key?”',
    );
    expect(stoppedAt({ state: 'propagating.backingOff', steps: [running('awaitPropagation', 'retrying')] })).toBe(
      'while “Wait for Entra ID to accept the new key” waited to retry',
    );
    for (const where of [
      stoppedAt({ state: 'installing.running', steps: [running('installServerKey')] }),
      outcomeHeadline(doc({ outcome: null, state: 'installing.running', steps: [running('installServerKey')] })),
    ]) {
      expect(where).not.toMatch(/installing|running/);
    }
  });

  it('shows the step at work in an interrupted run as interrupted, with no time', () => {
    const lines = summaryLines(
      doc({ outcome: null, state: 'installing.running', steps: [running('installServerKey')] }),
    );
    expect(lines).toContain('■ Install the new key on the server  interrupted');
    expect(lines.join('\n')).not.toContain('declined');
  });

  it('counts step time as show does when given it: parked time between invocations is not step time', () => {
    const steps = [
      {
        name: 'detectPlatformKey' as const,
        status: 'succeeded' as const,
        // Started Monday, parked for the admin's Update key, resumed and done on Tuesday.
        startedAt: '2026-11-23T08:00:00.000Z',
        endedAt: '2026-11-24T09:00:05.000Z',
        attempts: 1,
      },
    ];
    const title = stepWording('detectPlatformKey').title;
    expect(summaryLines(doc({ steps }))).toContain(`✓ ${title}  succeeded 1d 1h`);
    expect(summaryLines(doc({ steps }), { times: new Map([['detectPlatformKey', 65_000]]) })).toContain(
      `✓ ${title}  succeeded 1m 5s`,
    );
  });

  it('words the Power Pages steps for the site and the platform key, not for Key Vault and a server', () => {
    const verify = stepWording('verifyNewKey', 'power-pages');
    expect(verify.title).toBe('Verify the site on the new key');
    expect(verify.waitingFor).toMatch(/site.*healthy.*platform's new key/);
    for (const step of ['observeTarget', 'verifyNewKey', 'retireOldKey']) {
      const w = stepWording(step, 'power-pages');
      expect(`${w.title} ${w.waitingFor}`).not.toMatch(/Key Vault|vault|server|WhoAmI/);
    }
    expect(stepWording('verifyNewKey', 'keyvault')).toEqual(stepWording('verifyNewKey'));
    expect(retryMessage('verifyNewKey', { attempt: 2, waitMs: 5000, code: 'unavailable' }, 4000, 'power-pages')).toBe(
      "Verify the site on the new key: waiting for the site to answer healthy on the platform's new key; attempt 2 in 4s (after unavailable)",
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { NotifyChannelConfig } from '../../../../src/notify/config.js';
import { notificationOf, notifyObserver } from '../../../../src/runs/observers/notify.js';

const run = { runId: '20261201T230000Z-site-abc123', target: 'site', targetKind: 'power-pages' as const };
const channel: NotifyChannelConfig = {
  name: 'teams',
  kind: 'teams',
  urlEnv: 'T_URL',
  events: ['parked', 'failed'],
};

describe('notificationOf', () => {
  it('gives a parked Power Pages run the admin-center steps and the exact resume command', () => {
    const n = notificationOf(
      {
        type: 'parked',
        at: 1,
        state: 'awaitingOperator',
        reason: 'platformKeyUpdate',
        message: 'Update key',
        outcome: 'awaitingOperator',
      },
      run,
    )!;
    expect(n.event).toBe('parked');
    expect(n.next).toBe(`certrotate resume ${run.runId}`);
    expect(n.steps!.join('\n')).toMatch(/admin\.powerplatform\.microsoft\.com[\s\S]*Update key/);
  });

  it('names the run, step and code of a failed run; says nothing of noChange', () => {
    const n = notificationOf(
      {
        type: 'ended',
        at: 1,
        runId: run.runId,
        outcome: 'failed',
        state: 'failed',
        failure: { step: 'attachKeyCredential', code: 'forbidden', message: 'no' },
      },
      run,
    )!;
    expect(n).toMatchObject({ event: 'failed', runId: run.runId });
    expect(n.facts).toContainEqual({ title: 'Code', value: 'forbidden' });
    expect(notificationOf({ type: 'ended', at: 1, runId: 'x', outcome: 'noChange', state: 'noChange' }, run)).toBe(
      undefined,
    );
  });
  it('names commands with the --config of the invocation, as printed commands do', () => {
    const o = { ...run, configOption: 'prod/certrotate.yaml' };
    const parked = notificationOf(
      {
        type: 'parked',
        at: 1,
        state: 'awaitingOperator',
        reason: 'platformKeyUpdate',
        message: 'Update key',
        outcome: 'awaitingOperator',
      },
      o,
    )!;
    expect(parked.next).toBe(`certrotate resume ${run.runId} --config prod/certrotate.yaml`);
    expect(parked.steps!.at(-1)).toBe(`Then run: certrotate resume ${run.runId} --config prod/certrotate.yaml`);
    const ended = notificationOf(
      { type: 'ended', at: 1, runId: run.runId, outcome: 'rolledBack', state: 'rolledBack' },
      o,
    )!;
    expect(ended.next).toBe(`certrotate show ${run.runId} --config prod/certrotate.yaml`);
    // The default file of the working directory needs no --config.
    const plain = notificationOf(
      { type: 'ended', at: 1, runId: run.runId, outcome: 'failed', state: 'failed' },
      { ...run, configOption: 'certrotate.yaml' },
    )!;
    expect(plain.next).toBe(`certrotate show ${run.runId}`);
  });
});

describe('notifyObserver', () => {
  it('queues deliveries without blocking, journals each result, and reports failures', async () => {
    const journaled: string[] = [];
    const warned: unknown[] = [];
    const order: string[] = [];
    const o = notifyObserver({
      ...run,
      channels: [channel],
      journalWritten: async () => {
        order.push('journal flushed');
      },
      journal: async (r) => {
        journaled.push(`${r.event}:${r.status}`);
      },
      warn: (f) => warned.push(f),
      delivery: {
        env: { T_URL: 'https://example.test/hook' },
        fetch: (async () => {
          order.push('sent');
          throw new Error('ECONNREFUSED');
        }) as unknown as typeof fetch,
        sleep: async () => undefined,
        maxAttempts: 2,
      },
    });
    o.onEvent({ type: 'ended', at: 1, runId: run.runId, outcome: 'failed', state: 'failed' });
    o.onEvent({ type: 'stepStarted', at: 1, step: 'attachKeyCredential', attempt: 1, rerun: false });
    await o.flush();
    const results = await o.results();
    expect(results).toEqual([
      expect.objectContaining({ channel: 'teams', event: 'failed', status: 'failed', attempts: 2 }),
    ]);
    expect(order[0]).toBe('journal flushed');
    expect(journaled).toEqual(['failed:failed']);
    expect(warned).toHaveLength(1);
  });
});

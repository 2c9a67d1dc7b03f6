/**
 * A fleet target's run gets the notifier a single `rotate` attaches: a failed target's channels hear `failed` with its
 * run id, the delivery is journaled in that run, and its result carries `notifications` for the fleet document.
 * The receiver is a fake fetch; the run is a fake that emits the events a real run would.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryRunStore } from '../../../src/adapters/state/memory-run-store.js';
import type { Config, TargetConfig } from '../../../src/config/schema.js';
import { runFleetTarget } from '../../../src/commands/rotate-fleet.js';
import { newRunId, type RunDocument } from '../../../src/runs/runner.js';
import type { RunObserver } from '../../../src/runs/events.js';

const channel = { name: 'ops', kind: 'slack' as const, urlEnv: 'OPS_SLACK_URL', events: ['failed' as const] };
const config = { notify: [channel] } as unknown as Config;
const target = { name: 'api', kind: 'keyvault' } as unknown as TargetConfig;

function failingRun(runId: string, seen: RunObserver[][]) {
  return async (observers: RunObserver[]): Promise<RunDocument> => {
    seen.push(observers);
    const failure = { step: 'generateCertificate' as const, code: 'Forbidden', message: 'vault denied the create' };
    for (const o of observers) o.onEvent({ type: 'ended', at: 0, runId, outcome: 'failed', state: 'failed', failure });
    return {
      formatVersion: 1,
      runId,
      target: 'api',
      outcome: 'failed',
      oldThumbprint: null,
      newThumbprint: null,
      steps: [],
      state: 'failed',
      message: 'vault denied the create',
    };
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe('runFleetTarget', () => {
  it('notifies the target’s channels of its run and lists the deliveries in its result', async () => {
    const bodies: string[] = [];
    vi.stubEnv('OPS_SLACK_URL', 'https://hooks.slack.example/services/T/B/x');
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      bodies.push(String(init.body));
      return new Response('ok', { status: 200 });
    });
    const store = new MemoryRunStore();
    const runId = newRunId('api', Date.parse('2026-06-01T00:00:00Z'));
    const seen: RunObserver[][] = [];
    const progress: RunObserver = { onEvent: () => undefined };
    const doc = await runFleetTarget(config, target, runId, store, failingRun(runId, seen), { progress });

    expect(seen[0]).toHaveLength(2);
    expect(seen[0]![0]).toBe(progress);
    expect(doc.notifications).toEqual([{ channel: 'ops', event: 'failed', status: 'sent' }]);
    expect(doc.outcome).toBe('failed');
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toContain(runId);
    const journal = await store.readJournal(runId);
    expect(journal.map((e) => [e.step, e.event])).toEqual([['notify', 'notified']]);
  });

  it('attaches no notifier and adds no notifications when no channel is configured', async () => {
    const store = new MemoryRunStore();
    const runId = newRunId('api', Date.parse('2026-06-01T00:00:00Z'));
    const seen: RunObserver[][] = [];
    const doc = await runFleetTarget(
      { notify: [] } as unknown as Config,
      target,
      runId,
      store,
      failingRun(runId, seen),
    );
    expect(seen[0]).toEqual([]);
    expect(doc).not.toHaveProperty('notifications');
  });
});

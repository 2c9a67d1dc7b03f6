import { describe, expect, it } from 'vitest';
import { MemoryRunStore } from '../../../src/adapters/state/memory-run-store.js';
import type { Config } from '../../../src/config/schema.js';
import { scanNotifier } from '../../../src/commands/scan-notify.js';
import { NOTIFY_SENT_RECORD } from '../../../src/notify/scan-notices.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-01T06:00:00.000Z');
const config = {
  notify: [
    { name: 'ops', kind: 'slack', urlEnv: 'OPS_URL', events: ['expiring', 'expired', 'stillParked'] },
    { name: 'pager', kind: 'teams', urlEnv: 'PAGER_URL', events: ['expired'] },
  ],
  notifyParkedAfter: DAY,
} as unknown as Config;
const rows = [
  { name: 'contoso-api', thumbprint: 'AA', expiresOn: new Date(NOW + 29.5 * DAY).toISOString(), daysLeft: 29 },
  { name: 'old-api', thumbprint: 'BB', expiresOn: new Date(NOW - DAY).toISOString(), daysLeft: -1 },
];
const logs: string[] = [];
const logger = { warn: (_f: unknown, m: string) => logs.push(m), error: (_f: unknown, m: string) => logs.push(m) };
const ctx = { logger } as unknown as Parameters<typeof scanNotifier>[0];

function receiver(down: Set<string>) {
  const calls: string[] = [];
  const fetch = (async (url: string) => {
    calls.push(url);
    return down.has(url) ? new Response('boom', { status: 500 }) : new Response('ok', { status: 200 });
  }) as unknown as typeof globalThis.fetch;
  return { calls, fetch };
}

describe('scan --notify', () => {
  it('refuses a config without channels before scanning', () => {
    expect(() => scanNotifier(ctx, { ...config, notify: [] }, new MemoryRunStore())).toThrow(/no notify channels/);
  });

  it('tells each channel once, remembers it in the store, and retries only the channel that was down', async () => {
    const store = new MemoryRunStore();
    const down = new Set(['https://pager']);
    const r = receiver(down);
    const delivery = {
      env: { OPS_URL: 'https://ops', PAGER_URL: 'https://pager' },
      fetch: r.fetch,
      now: () => NOW,
      sleep: async () => undefined,
      maxAttempts: 1,
    };
    const first = await scanNotifier(ctx, config, store, delivery)(rows);
    expect(first.map((d) => `${d.target}:${d.event}:${d.channel}:${d.status}`).sort()).toEqual([
      'contoso-api:expiring:ops:sent',
      'old-api:expired:ops:sent',
      'old-api:expired:pager:failed',
    ]);
    expect(logs).toContain('notification not delivered');
    expect(await store.readRecord(NOTIFY_SENT_RECORD)).toMatchObject({
      sent: {
        'expiring|contoso-api|ops': { thumbprint: 'AA', threshold: 30 },
        'expired|old-api|ops': { thumbprint: 'BB' },
      },
    });
    down.clear();
    const second = await scanNotifier(ctx, config, store, delivery)(rows);
    expect(second.map((d) => `${d.target}:${d.event}:${d.channel}:${d.status}`)).toEqual([
      'old-api:expired:pager:sent',
    ]);
    expect(await scanNotifier(ctx, config, store, delivery)(rows)).toEqual([]);
  });

  it('sends nothing when the record cannot be read (rather than every threshold again)', async () => {
    const store = new MemoryRunStore();
    store.objects.set(`records/${NOTIFY_SENT_RECORD}.json`, '{broken');
    const r = receiver(new Set());
    const out = await scanNotifier(ctx, config, store, { env: { OPS_URL: 'https://ops' }, fetch: r.fetch })(rows);
    expect(out).toEqual([]);
    expect(r.calls).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { scrubString } from '../../../src/logging/scrub.js';
import type { NotifyChannelConfig } from '../../../src/notify/config.js';
import { deliverTo, notifyAll } from '../../../src/notify/deliver.js';
import type { Notification } from '../../../src/notify/events.js';

const n: Notification = { event: 'failed', target: 'api', runId: 'r1', at: 0, title: 'failed', facts: [] };
const teamsChannel: NotifyChannelConfig = { name: 'teams', kind: 'teams', urlEnv: 'T_URL', events: ['failed'] };
const url = 'https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=SECRETSIG123';

/** A fake fetch answering from a list, recording the calls. */
function fakeFetch(answers: (Response | Error)[]) {
  const calls: { url: string; body: string }[] = [];
  const f = (async (u: string, init: RequestInit) => {
    calls.push({ url: u, body: String(init.body) });
    const a = answers.shift() ?? new Response('', { status: 500 });
    if (a instanceof Error) throw a;
    return a;
  }) as unknown as typeof fetch;
  return { f, calls };
}

function clock() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('deliverTo', () => {
  it('retries a 429 after its Retry-After, then succeeds', async () => {
    const { f, calls } = fakeFetch([
      new Response('', { status: 429, headers: { 'retry-after': '2' } }),
      new Response('', { status: 202 }),
    ]);
    const c = clock();
    const r = await deliverTo(teamsChannel, n, { env: { T_URL: url }, fetch: f, ...c });
    expect(r).toEqual({ channel: 'teams', event: 'failed', status: 'sent', attempts: 2 });
    expect(c.slept).toEqual([2000]);
    expect(calls).toHaveLength(2);
  });

  it('gives up within the time budget on a receiver that keeps failing, without throwing', async () => {
    const { f, calls } = fakeFetch([new Response('', { status: 503 }), new Error('ECONNREFUSED')]);
    const c = clock();
    const r = await deliverTo(teamsChannel, n, { env: { T_URL: url }, fetch: f, ...c, budgetMs: 2500, maxAttempts: 5 });
    expect(r.status).toBe('failed');
    expect(r.attempts).toBe(2);
    expect(c.now()).toBeLessThanOrEqual(2500);
    expect(calls).toHaveLength(2);
  });

  it('does not retry a 400 (the payload is wrong, repeating it will not help)', async () => {
    const { f } = fakeFetch([new Response('invalid_payload', { status: 400 })]);
    const r = await deliverTo({ ...teamsChannel, kind: 'slack' }, n, { env: { T_URL: url }, fetch: f, ...clock() });
    expect(r).toMatchObject({ status: 'failed', attempts: 1, error: 'HTTP 400 invalid_payload' });
  });

  it('reports a missing environment variable by name instead of crashing', async () => {
    const r = await deliverTo(teamsChannel, n, { env: {} });
    expect(r).toMatchObject({ status: 'failed', attempts: 0 });
    expect(r.error).toContain('T_URL');
    const w = await deliverTo(
      { name: 'hook', kind: 'webhook', urlEnv: 'W', secretEnv: 'W_SECRET', events: ['failed'] },
      n,
      { env: { W: 'https://example.test/hook' } },
    );
    expect(w.error).toContain('W_SECRET');
  });

  it('never puts the URL in an error, and registers it for the scrubber', async () => {
    const { f } = fakeFetch([new Error(`connect failed for ${url}`)]);
    const r = await deliverTo(teamsChannel, n, { env: { T_URL: url }, fetch: f, ...clock(), maxAttempts: 1 });
    expect(r.error).not.toContain('SECRETSIG123');
    expect(scrubString(`posting to ${url}`)).not.toContain('SECRETSIG123');
  });

  it('sends only to channels subscribed to the event and target', async () => {
    const { f, calls } = fakeFetch([new Response('', { status: 202 })]);
    const results = await notifyAll(
      [
        teamsChannel,
        { ...teamsChannel, name: 'other', events: ['expiring'] },
        { ...teamsChannel, name: 'prod-only', targets: ['prod-*'] },
      ],
      n,
      { env: { T_URL: url }, fetch: f, ...clock() },
    );
    expect(results.map((r) => r.channel)).toEqual(['teams']);
    expect(calls).toHaveLength(1);
  });
});

describe('scrubber', () => {
  it('redacts signed-URL credentials, Slack hook paths and whsec_ secrets', () => {
    const s = scrubString(
      'a https://x.logic.azure.com/p?sp=1&sig=abcDEF123 b https://hooks.slack.com/services/T1/B2/zzz c whsec_QUJD',
    );
    expect(s).not.toMatch(/abcDEF123|T1\/B2\/zzz|QUJD/);
  });
});

describe('notify config', () => {
  const base = { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' };

  it('accepts channels and defaults notifyParkedAfter to 24h', () => {
    const cfg = configSchema.parse({
      ...base,
      notify: [{ name: 'hook', kind: 'webhook', urlEnv: 'HOOK_URL', secretEnv: 'HOOK_SECRET', events: ['failed'] }],
    });
    expect(cfg.notify[0]!.name).toBe('hook');
    expect(cfg.notifyParkedAfter).toBe(86_400_000);
  });

  it('names the field and the expectation for a webhook without a secret and an unknown event', () => {
    const r = configSchema.safeParse({
      ...base,
      notify: [
        { name: 'hook', kind: 'webhook', urlEnv: 'HOOK_URL', events: ['failed'] },
        { name: 't', kind: 'teams', urlEnv: 'T', events: ['exploded'] },
      ],
    });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toContainEqual(expect.stringMatching(/^notify\.0\.secretEnv: expected secretEnv/));
    expect(issues).toContainEqual(expect.stringMatching(/^notify\.1\.events\.0: expected one of expiring/));
  });
});

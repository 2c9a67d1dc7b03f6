/**
 * The sandbox's notification receivers answer as the real services do (reference §3a–3c): Teams Workflows 202 (401
 * for a wrong `sig`, 400 for a body that is not JSON), Slack `200 ok` / `400 invalid_payload` / `404 no_service`, a
 * Standard Webhooks receiver 2xx only for a signature that verifies; they take the admin faults, record every
 * delivery at `GET <admin>/notifications`, and `sandbox start` describes them in the config and in `D/notify.env`.
 */
import { createHmac } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { NOTIFY_EVENTS } from '../../../src/notify/events.js';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import type { RecordedNotification } from '../../../src/sandbox/notification-receivers.js';

let sb: Sandbox;
let env: Record<string, string>;

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0, keyPoolSize: 1, notifyReceivers: true });
  const text = await readFile(join(sb.dir, 'notify.env'), 'utf8');
  env = Object.fromEntries(
    [...text.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
});
afterAll(() => sb?.stop());
beforeEach(() => send('DELETE', `${sb.adminUrl}/notifications`));

/** One HTTPS request trusting only the sandbox CA; the body comes back as text (Slack answers plain strings). */
function send(
  method: string,
  url: string,
  body?: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: sb.caPem, headers: body === undefined ? {} : headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const recorded = async () =>
  JSON.parse((await send('GET', `${sb.adminUrl}/notifications`)).text) as RecordedNotification[];

const card = JSON.stringify({
  type: 'message',
  attachments: [
    {
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: {
        type: 'AdaptiveCard',
        version: '1.4',
        body: [
          { type: 'TextBlock', text: 'Key for contoso-api expires in 14 days' },
          {
            type: 'FactSet',
            facts: [
              { title: 'Target', value: 'contoso-api' },
              { title: 'Event', value: 'expiring' },
              { title: 'Run', value: 'r-1' },
            ],
          },
        ],
      },
    },
  ],
});

describe('sandbox start describes its receivers', () => {
  it('writes D/notify.env (mode 0600) and a notify section subscribing teams, slack and webhook to every event', async () => {
    expect((await stat(join(sb.dir, 'notify.env'))).mode & 0o777).toBe(0o600);
    expect(Object.keys(env).sort()).toEqual([
      'CERTROTATE_SANDBOX_SLACK_URL',
      'CERTROTATE_SANDBOX_TEAMS_URL',
      'CERTROTATE_SANDBOX_WEBHOOK_SECRET',
      'CERTROTATE_SANDBOX_WEBHOOK_URL',
    ]);
    expect(env.CERTROTATE_SANDBOX_WEBHOOK_SECRET).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(env.CERTROTATE_SANDBOX_TEAMS_URL).toMatch(/\/triggers\/manual\/paths\/invoke\?api-version=.*&sig=/);
    const { config } = await loadConfig(sb.configPath);
    expect(config.notify.map((c) => `${c.name}:${c.kind}`)).toEqual(['teams:teams', 'slack:slack', 'webhook:webhook']);
    for (const c of config.notify) expect([...c.events].sort()).toEqual([...NOTIFY_EVENTS].sort());
    // The config names the variables; the URLs (credentials) are only in notify.env.
    const yaml = await readFile(sb.configPath, 'utf8');
    expect(yaml).not.toContain(new URL(env.CERTROTATE_SANDBOX_SLACK_URL!).pathname);
  });
});

describe('Teams Workflows receiver', () => {
  it('answers 202 and records the card with its target, event and run id', async () => {
    const res = await send('POST', env.CERTROTATE_SANDBOX_TEAMS_URL!, card);
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const [r] = await recorded();
    expect(r).toMatchObject({
      channel: 'teams',
      kind: 'teams',
      event: 'expiring',
      target: 'contoso-api',
      runId: 'r-1',
    });
    expect(r!.headers['content-type']).toBe('application/json');
    expect(r!.body).toEqual(JSON.parse(card));
  });

  it('refuses a wrong sig with 401 and a body that is not JSON with 400', async () => {
    const wrong = env.CERTROTATE_SANDBOX_TEAMS_URL!.replace(/sig=[^&]+/, 'sig=nope');
    expect((await send('POST', wrong, card)).status).toBe(401);
    const bad = await send('POST', env.CERTROTATE_SANDBOX_TEAMS_URL!, '{not json');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ error: { code: 'InvalidRequestContent' } });
  });
});

describe('Slack incoming-webhook receiver', () => {
  it('answers 200 ok for text plus blocks', async () => {
    const body = JSON.stringify({
      text: 'contoso-api failed',
      blocks: [{ type: 'section', fields: [{ type: 'mrkdwn', text: '*Target*\ncontoso-api' }] }],
    });
    const res = await send('POST', env.CERTROTATE_SANDBOX_SLACK_URL!, body);
    expect([res.status, res.text]).toEqual([200, 'ok']);
    expect((await recorded())[0]).toMatchObject({ channel: 'slack', target: 'contoso-api', status: 200 });
  });

  it('answers 400 invalid_payload for a malformed body and 404 no_service for an unknown hook', async () => {
    for (const body of ['{oops', JSON.stringify({ blocks: 'x' }), JSON.stringify({ attachments: [] })]) {
      const res = await send('POST', env.CERTROTATE_SANDBOX_SLACK_URL!, body);
      expect([res.status, res.text]).toEqual([400, 'invalid_payload']);
    }
    const other = `${new URL(env.CERTROTATE_SANDBOX_SLACK_URL!).origin}/services/T0/B0/unknown`;
    const res = await send('POST', other, JSON.stringify({ text: 'x' }));
    expect([res.status, res.text]).toEqual([404, 'no_service']);
  });
});

describe('Standard Webhooks receiver', () => {
  const body = JSON.stringify({
    specversion: '1.0',
    id: 'msg_1',
    type: 'io.github.certrotate.failed',
    source: '/certrotate',
    data: { event: 'failed', target: 'contoso-api', runId: 'r-9' },
  });
  const signed = (secret: string, id: string, ts: number, payload: string) =>
    `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
      .update(`${id}.${ts}.${payload}`)
      .digest('base64')}`;

  it('answers 204 for a delivery whose signature verifies and records it', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const res = await send('POST', env.CERTROTATE_SANDBOX_WEBHOOK_URL!, body, {
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signed(env.CERTROTATE_SANDBOX_WEBHOOK_SECRET!, 'msg_1', ts, body),
    });
    expect(res.status).toBe(204);
    const [r] = await recorded();
    expect(r).toMatchObject({ channel: 'webhook', event: 'failed', target: 'contoso-api', runId: 'r-9', status: 204 });
    expect(r!.headers['webhook-id']).toBe('msg_1');
  });

  it('answers 401 when the signature does not cover the body', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const res = await send('POST', env.CERTROTATE_SANDBOX_WEBHOOK_URL!, `${body} `, {
      'content-type': 'application/cloudevents+json',
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signed(env.CERTROTATE_SANDBOX_WEBHOOK_SECRET!, 'msg_1', ts, body),
    });
    expect(res.status).toBe(401);
  });
});

describe('admin faults', () => {
  it('apply to a receiver by instance name: 429 with Retry-After once, then the service answers again', async () => {
    const rules = [{ service: 'notify-slack', status: 429, retryAfter: 2, count: 1 }];
    expect((await send('POST', `${sb.adminUrl}/faults`, JSON.stringify({ rules }))).status).toBe(200);
    const payload = JSON.stringify({ text: 'x' });
    const first = await send('POST', env.CERTROTATE_SANDBOX_SLACK_URL!, payload);
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('2');
    const second = await send('POST', env.CERTROTATE_SANDBOX_SLACK_URL!, payload);
    expect([second.status, second.text]).toEqual([200, 'ok']);
    await send('DELETE', `${sb.adminUrl}/faults`);
  });
});

import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, slack, slackMessage } from '../../../src/notify/channels/slack.js';
import { adaptiveCard, teams } from '../../../src/notify/channels/teams.js';
import { webhook } from '../../../src/notify/channels/webhook.js';
import type { Notification } from '../../../src/notify/events.js';
import { TEAMS_MAX_BYTES, truncateList } from '../../../src/notify/limits.js';

/** Standard Webhooks v1 verification written from the spec (reference §3c), independent of the package. */
function verifyStandardWebhook(secret: string, headers: Record<string, string>, body: string, nowSec: number): boolean {
  const id = headers['webhook-id']!;
  const ts = headers['webhook-timestamp']!;
  if (Math.abs(nowSec - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return headers['webhook-signature']!.split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const sample: Notification = {
  event: 'parked',
  target: 'contoso-portal',
  runId: '20261201T230000Z-contoso-portal-abc123',
  at: Date.parse('2026-12-01T23:00:00Z'),
  title: 'contoso-portal: update the key in the Power Platform admin center',
  daysLeft: 14,
  facts: [{ title: 'Reason', value: 'platformKeyUpdate' }],
  steps: ['Open the admin center', 'Update key'],
  next: 'certrotate resume 20261201T230000Z-contoso-portal-abc123',
};

describe('Standard Webhooks verifier used by the tests', () => {
  it('accepts the reference test vector', () => {
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    expect(
      verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232314}', 1614265330),
    ).toBe(true);
    expect(
      verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232315}', 1614265330),
    ).toBe(false);
  });
});

describe('webhook channel', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const now = Date.parse('2026-12-01T23:00:05Z');

  it('sends a CloudEvents 1.0 structured event whose Standard Webhooks signature verifies', () => {
    const req = webhook.render(sample, { id: 'msg_123', now, secret });
    expect(req.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(req.headers['webhook-id']).toBe('msg_123');
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(now / 1000)));
    expect(verifyStandardWebhook(secret, req.headers, req.body, Math.floor(now / 1000))).toBe(true);
    expect(verifyStandardWebhook(secret, req.headers, `${req.body} `, Math.floor(now / 1000))).toBe(false);
    const ce = JSON.parse(req.body) as Record<string, unknown>;
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: 'msg_123',
      type: 'io.github.certrotate.parked',
      subject: 'contoso-portal',
      time: '2026-12-01T23:00:00.000Z',
      data: { target: 'contoso-portal', runId: sample.runId, daysLeft: 14, next: sample.next },
    });
    expect(String(ce.source)).toMatch(/^\/certrotate\/.+\/contoso-portal$/);
  });

  it('keeps the source a URI-reference for a name with spaces (a discovered app), the subject as named', () => {
    const req = webhook.render({ ...sample, target: 'Portals - fleet site' }, { id: 'msg_2', now, secret });
    const ce = JSON.parse(req.body) as Record<string, unknown>;
    expect(String(ce.source)).toMatch(/^\/certrotate\/[^ ]+\/Portals%20-%20fleet%20site$/);
    expect(ce.subject).toBe('Portals - fleet site');
  });

  it('refuses to send unsigned', () => {
    expect(() => webhook.render(sample, { id: 'msg_1', now })).toThrow(/secretEnv/);
  });

  it('keeps the body under 20 KB by cutting the steps list', () => {
    const steps = Array.from({ length: 2000 }, (_, i) => `step ${i} ${'x'.repeat(40)}`);
    const req = webhook.render({ ...sample, steps }, { id: 'msg_2', now, secret });
    expect(Buffer.byteLength(req.body)).toBeLessThanOrEqual(20 * 1024);
    const data = (JSON.parse(req.body) as { data: { steps: string[] } }).data;
    expect(data.steps.at(-1)).toMatch(/^and \d+ more$/);
  });
});

describe('teams channel', () => {
  it('wraps an Adaptive Card 1.4 in the Workflows message envelope', () => {
    const body = JSON.parse(teams.render(sample, { id: 'x', now: 0 }).body) as {
      type: string;
      attachments: { contentType: string; content: Record<string, unknown> }[];
    };
    expect(body.type).toBe('message');
    expect(body.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = body.attachments[0]!.content;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    const text = JSON.stringify(card);
    for (const s of ['contoso-portal', sample.runId!, 'Days left', '14', sample.next!, 'Update key']) {
      expect(text).toContain(s);
    }
    expect(text).not.toContain('Action.Submit');
  });

  it('stays under the 28 KB message limit with "and N more"', () => {
    const facts = Array.from({ length: 3000 }, (_, i) => ({ title: `f${i}`, value: 'v'.repeat(30) }));
    const req = teams.render({ ...sample, facts }, { id: 'x', now: 0 });
    expect(Buffer.byteLength(req.body)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(req.body).toMatch(/and \d+ more/);
  });

  it('accepts 202 as Workflows answers', () => {
    expect(teams.accepted(202, '')).toBe(true);
    expect(teams.accepted(400, 'x')).toBe(false);
    expect(adaptiveCard(sample).body).toBeInstanceOf(Array);
  });
});

describe('slack channel', () => {
  it('sends text plus blocks with escaped user text', () => {
    const msg = slackMessage({ ...sample, title: 'a <!channel> & b' }) as { text: string; blocks: unknown[] };
    expect(msg.text).toBe('a &lt;!channel&gt; &amp; b');
    expect(msg.blocks.length).toBeGreaterThan(1);
    expect(JSON.stringify(msg.blocks)).toContain('certrotate resume');
    expect(escapeMrkdwn('<x>')).toBe('&lt;x&gt;');
  });

  it('treats only 200 ok as accepted', () => {
    expect(slack.accepted(200, 'ok')).toBe(true);
    expect(slack.accepted(400, 'invalid_payload')).toBe(false);
  });

  it('truncates lists with "and N more"', () => {
    expect(truncateList(['a', 'b', 'c', 'd'], 3)).toEqual(['a', 'b', 'and 2 more']);
    expect(truncateList(['a'], 3)).toEqual(['a']);
  });
});

/**
 * Notifications end to end against the sandbox's receivers (one sandbox, started as `sandbox start` starts it: the
 * generated config's `notify:` section and `D/notify.env`): a daily `scan --notify` run twice tells each threshold
 * once, a parked Power Pages run sends one `parked` card with the admin-center steps, a failed rotation sends
 * `failed` with its run id, and the webhook delivery's signature verifies with the Standard Webhooks scheme
 * implemented here, independently of the `standardwebhooks` package the sender uses.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedNotification } from '../../src/sandbox/notification-receivers.js';
import {
  addFaults,
  admin,
  clearFaults,
  cli,
  parseJson,
  sandboxTarget,
  startE2eSandbox,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

const DAY = 86_400_000;
let sb: Sandbox;
let env: Record<string, string>;

beforeAll(async () => {
  sb = await startE2eSandbox({ notifyReceivers: true });
  // What `. D/notify.env` would export.
  const text = await readFile(join(sb.dir, 'notify.env'), 'utf8');
  env = Object.fromEntries([...text.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
}, 120_000);
afterAll(async () => sb?.stop());

const deliveries = () => admin<RecordedNotification[]>(sb, 'GET', '/notifications');
const clearDeliveries = () => admin(sb, 'DELETE', '/notifications');
type ScanDoc = {
  targets: { name: string; daysLeft: number | null }[];
  notifications: { target: string; channel: string; event: string; status: string }[];
};

/** Standard Webhooks v1, from the spec: HMAC-SHA256 over `id.timestamp.body`, key = base64 after `whsec_`. */
function verifyStandardWebhook(secret: string, headers: Record<string, string>, body: string, nowSec: number): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (!id || !ts || !sigs || id.includes('.') || ts.includes('.')) return false;
  if (Math.abs(nowSec - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return sigs.split(' ').some((s) => {
    const [version, b64] = s.split(',');
    if (version !== 'v1' || !b64) return false;
    const got = Buffer.from(b64, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

describe('scan --notify, daily', () => {
  it('tells each threshold once per target: the same day twice, then again once the key is 14 days from expiry', async () => {
    await clearDeliveries();
    const first = await cli(sb.configPath, ['scan', '--notify', '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    const doc = parseJson<ScanDoc>(first);
    const contoso = doc.targets.find((t) => t.name === 'contoso-api')!;
    expect(contoso.daysLeft).toBeLessThanOrEqual(30);
    expect(contoso.daysLeft).toBeGreaterThan(15);
    const told = doc.notifications.filter((n) => n.target === 'contoso-api');
    expect(told.map((n) => `${n.channel}:${n.event}:${n.status}`).sort()).toEqual([
      'slack:expiring:sent',
      'teams:expiring:sent',
      'webhook:expiring:sent',
    ]);
    const received = await deliveries();
    expect(
      received
        .filter((d) => d.target === 'contoso-api')
        .map((d) => d.channel)
        .sort(),
    ).toEqual(['slack', 'teams', 'webhook']);
    const sentFirst = received.length;
    expect(sentFirst).toBe(doc.notifications.length);

    // The same day again: nothing new on any channel.
    const second = await cli(sb.configPath, ['scan', '--notify', '--json'], { env });
    expect(second.code, second.stderr).toBe(0);
    expect(parseJson<ScanDoc>(second).notifications).toEqual([]);
    expect((await deliveries()).length).toBe(sentFirst);

    // Days pass: the key in use now ends in 14½ days (as it would two weeks later). The 15-day threshold, once.
    const app = sb.directory.apps().find((a) => a.appId === sandboxTarget(sb, 'contoso-api').appId)!;
    for (const k of app.keyCredentials) k.endMs = Date.now() + 14 * DAY + 12 * 3_600_000;
    for (let i = 0; i < 2; i++) {
      const later = await cli(sb.configPath, ['scan', '--notify', '--json'], { env });
      expect(later.code, later.stderr).toBe(0);
      const laterDoc = parseJson<ScanDoc>(later);
      expect(laterDoc.targets.find((t) => t.name === 'contoso-api')!.daysLeft).toBe(14);
      expect(laterDoc.notifications.map((n) => `${n.target}:${n.channel}:${n.event}`).sort()).toEqual(
        i === 0 ? ['contoso-api:slack:expiring', 'contoso-api:teams:expiring', 'contoso-api:webhook:expiring'] : [],
      );
    }
    const webhookContoso = (await deliveries()).filter((d) => d.channel === 'webhook' && d.target === 'contoso-api');
    expect(
      webhookContoso.map((d) => (d.body as { data: { facts: Record<string, string> } }).data.facts.Threshold),
    ).toEqual(['30 days', '15 days']);
  }, 120_000);
});

describe('rotation notifications', () => {
  it('a parked Power Pages run sends one parked card with the admin-center steps', async () => {
    await clearDeliveries();
    const r = await cli(sb.configPath, ['rotate', 'contoso-portal', '--yes', '--json'], { env });
    expect(r.code, r.stderr).toBe(3);
    const doc = parseJson<RunDocument & { notifications: { channel: string; event: string; status: string }[] }>(r);
    expect(doc.outcome).toBe('awaitingOperator');
    expect(doc.notifications.map((n) => `${n.channel}:${n.event}:${n.status}`).sort()).toEqual([
      'slack:parked:sent',
      'teams:parked:sent',
      'webhook:parked:sent',
    ]);
    const cards = (await deliveries()).filter((d) => d.channel === 'teams');
    expect(cards).toHaveLength(1);
    expect(cards[0]).toMatchObject({ event: 'parked', target: 'contoso-portal', runId: doc.runId, status: 202 });
    const text = JSON.stringify(cards[0]!.body);
    expect(text).toContain('Website Authentication Key');
    expect(text).toContain('admin.powerplatform.microsoft.com');
    expect(text).toContain(`certrotate resume ${doc.runId}`);
    // The command a notification names acts on the configuration this rotation used.
    expect(text).toContain(`certrotate resume ${doc.runId} --config ${sb.configPath}`);
  }, 120_000);

  it('a failed rotation sends failed with the run id, and the webhook signature verifies independently', async () => {
    await clearDeliveries();
    // Key Vault refuses the certificate create (a refusal, not an outage): the run ends `failed`, nothing changed.
    await addFaults(sb, [{ service: 'keyvault', method: 'POST', path: '/certificates/*/create', status: 403 }]);
    let r;
    try {
      r = await cli(sb.configPath, ['rotate', 'fabrikam-api', '--force', '--yes', '--json'], { env });
    } finally {
      await clearFaults(sb);
    }
    expect(r.code, r.stderr).toBe(1);
    const doc = parseJson<RunDocument>(r);
    expect(doc.outcome).toBe('failed');
    const received = await deliveries();
    expect(received.map((d) => `${d.channel}:${d.event}:${d.runId}`).sort()).toEqual([
      `slack:failed:${doc.runId}`,
      `teams:failed:${doc.runId}`,
      `webhook:failed:${doc.runId}`,
    ]);
    const hook = received.find((d) => d.channel === 'webhook')!;
    expect(hook.status).toBe(204);
    const raw = hook.rawBody;
    expect(JSON.parse(raw)).toEqual(hook.body);
    const secret = env.CERTROTATE_SANDBOX_WEBHOOK_SECRET!;
    const nowSec = Math.floor(Date.now() / 1000);
    expect(verifyStandardWebhook(secret, hook.headers, raw, nowSec)).toBe(true);
    expect(verifyStandardWebhook(secret, hook.headers, raw.replace(doc.runId, 'r-other'), nowSec)).toBe(false);
    expect(verifyStandardWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, hook.headers, raw, nowSec)).toBe(
      false,
    );
    expect(hook.body).toMatchObject({
      specversion: '1.0',
      type: 'io.github.certrotate.failed',
      data: { runId: doc.runId },
    });
  }, 120_000);
});

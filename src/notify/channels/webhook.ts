/**
 * A generic webhook: a CloudEvents 1.0 structured JSON event (built with the `cloudevents` SDK), signed per Standard
 * Webhooks with the `standardwebhooks` package (reference §3c, §3d). `webhook-id` is the CloudEvents `id` and stays
 * the same across retries, so a receiver can dedupe; `webhook-timestamp` is the attempt's time.
 */
import { hostname } from 'node:os';
import { CloudEvent, HTTP } from 'cloudevents';
import { Webhook } from 'standardwebhooks';
import type { Notification } from '../events.js';
import { truncateList, WEBHOOK_MAX_BYTES } from '../limits.js';
import type { NotifierKind } from '../port.js';

/** The CloudEvents type prefix (reference §3g). */
export const EVENT_TYPE_PREFIX = 'io.github.certrotate';

/** The CloudEvent of a notification, as a structured-mode message (headers and body). */
export function cloudEventMessage(
  n: Notification,
  id: string,
  maxItems = 50,
): { headers: Record<string, string>; body: string } {
  const ce = new CloudEvent({
    specversion: '1.0',
    id,
    // A URI-reference: a discovered app's name (`discover --notify`) may hold spaces; the subject keeps it as is.
    source: `/certrotate/${encodeURIComponent(hostname())}/${encodeURIComponent(n.target)}`,
    type: `${EVENT_TYPE_PREFIX}.${n.event}`,
    subject: n.target,
    time: new Date(n.at).toISOString(),
    datacontenttype: 'application/json',
    data: {
      event: n.event,
      target: n.target,
      title: n.title,
      ...(n.runId ? { runId: n.runId } : {}),
      ...(n.daysLeft !== undefined ? { daysLeft: n.daysLeft } : {}),
      ...(n.next ? { next: n.next } : {}),
      facts: Object.fromEntries(n.facts.slice(0, maxItems).map((f) => [f.title, f.value])),
      ...(n.steps?.length ? { steps: truncateList(n.steps, maxItems) } : {}),
    },
  });
  const message = HTTP.structured(ce);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
  return { headers, body: String(message.body) };
}

/** The signed-webhook channel kind. */
export const webhook: NotifierKind = {
  kind: 'webhook',
  needsSecret: true,
  render(n, ctx) {
    if (!ctx.secret) throw new Error('a webhook channel signs its events and needs secretEnv');
    // Halve the listed facts and steps until the body is under the size Standard Webhooks advises.
    let max = 50;
    let out = cloudEventMessage(n, ctx.id, max);
    while (Buffer.byteLength(out.body) > WEBHOOK_MAX_BYTES && max > 1) {
      max = Math.floor(max / 2);
      out = cloudEventMessage(n, ctx.id, max);
    }
    const timestamp = new Date(Math.floor(ctx.now / 1000) * 1000);
    const signature = new Webhook(ctx.secret).sign(ctx.id, timestamp, out.body);
    return {
      headers: {
        ...out.headers,
        'webhook-id': ctx.id,
        'webhook-timestamp': String(Math.floor(ctx.now / 1000)),
        'webhook-signature': signature,
      },
      body: out.body,
    };
  },
  accepted: (status) => status >= 200 && status < 300,
};

/**
 * The sandbox's notification receivers (issue 15): one HTTPS listener per channel kind, answering as the real
 * services do (reference §3a–3c) and recording every delivery for `GET <admin>/notifications`:
 * - Teams Workflows: `POST /workflows/<id>/triggers/manual/paths/invoke?…&sig=…` → 202 (which does not confirm
 *   posting), 401 for a wrong `sig`, 400 for a body that is not JSON;
 * - Slack: `POST /services/T…/B…/<secret>` → 200 `ok`, 400 `invalid_payload` for a body that is not JSON or has
 *   neither `text` nor `blocks`, 404 `no_service` for a wrong path;
 * - a Standard Webhooks receiver: `POST /hooks/<id>` → 204 once the signature verifies with the sandbox's secret,
 *   401 when it does not.
 * The listeners are instrumented like every service (kind `notify`, instance `notify-teams` / `notify-slack` /
 * `notify-webhook`), so the usual admin faults (status, Retry-After, latency, count) apply to them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Webhook } from 'standardwebhooks';
import type { SandboxClock } from './clock.js';
import { isoTime } from './clock.js';
import type { HostSet } from './hosts.js';
import type { ServiceHost } from './service-host.js';

/** One recorded delivery, as `GET <admin>/notifications` lists it. */
export interface RecordedNotification {
  time: string;
  /** The sandbox channel name: `teams`, `slack` or `webhook`. */
  channel: string;
  kind: 'teams' | 'slack' | 'webhook';
  /** The certrotate event, as far as the body tells (`null` when it does not). */
  event: string | null;
  target: string | null;
  runId: string | null;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  /** The exact bytes received, as text (a webhook signature covers exactly these). */
  rawBody: string;
  headers: Record<string, string>;
  /** The status the receiver answered. */
  status: number;
}

/** The receivers of one sandbox. */
export interface NotificationReceivers {
  /** Listens on all three; resolves once they do. */
  listen(): Promise<void>;
  /** Every delivery so far, oldest first. */
  deliveries(): RecordedNotification[];
  /** Forgets the recorded deliveries (`DELETE <admin>/notifications`). */
  clear(): void;
  /** The channel URLs (secrets: they carry the credential) and the webhook signing secret, once listening. */
  urls(): { teams: string; slack: string; webhook: string };
  secret: string;
}

/** The environment variables `D/notify.env` sets and the generated config's `notify:` section reads. */
export const NOTIFY_ENV = {
  teams: 'CERTROTATE_SANDBOX_TEAMS_URL',
  slack: 'CERTROTATE_SANDBOX_SLACK_URL',
  webhook: 'CERTROTATE_SANDBOX_WEBHOOK_URL',
  webhookSecret: 'CERTROTATE_SANDBOX_WEBHOOK_SECRET',
} as const;

type Facts = Map<string, string>;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The facts table of a Teams card (FactSet title → value). */
function teamsFacts(body: unknown): Facts {
  const facts: Facts = new Map();
  const attachments = (body as { attachments?: { content?: { body?: unknown[] } }[] } | undefined)?.attachments;
  for (const el of attachments?.[0]?.content?.body ?? []) {
    const set = el as { type?: string; facts?: { title: string; value: string }[] };
    if (set.type === 'FactSet') for (const f of set.facts ?? []) facts.set(f.title, f.value);
  }
  return facts;
}

/** The fields of a Slack message (`*Title*\nvalue`), unescaped. */
function slackFacts(body: unknown): Facts {
  const facts: Facts = new Map();
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const block of (body as { blocks?: { fields?: { text: string }[] }[] } | undefined)?.blocks ?? []) {
    for (const f of block.fields ?? []) {
      const m = /^\*(.+?)\*\n([\s\S]*)$/.exec(f.text);
      if (m) facts.set(unescape(m[1]!), unescape(m[2]!));
    }
  }
  return facts;
}

function headersOf(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Every body arrives as text: the webhook signature covers the exact bytes, and a malformed body is recorded too. */
function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
}

/** Creates the three receivers on `hosts` (not yet listening). */
export function createNotificationReceivers(opts: { hosts: HostSet; clock: SandboxClock }): NotificationReceivers {
  const records: RecordedNotification[] = [];
  const failFault = (status: number, message: string) => ({ error: { code: `Http${status}`, message } });
  const teamsHost = opts.hosts.add('notify', 'notify-teams', failFault);
  const slackHost = opts.hosts.add('notify', 'notify-slack', failFault);
  const webhookHost = opts.hosts.add('notify', 'notify-webhook', failFault);
  // Fresh per sandbox: the URL parts that are credentials in the real services, and a `whsec_` key of 32 bytes.
  const workflowId = randomUUID().replace(/-/g, '');
  const sig = randomBytes(24).toString('base64url');
  const slackPath = `/services/T${randomBytes(4).toString('hex').toUpperCase()}/B${randomBytes(4).toString('hex').toUpperCase()}/${randomBytes(12).toString('base64url')}`;
  const hookPath = `/hooks/${randomBytes(8).toString('hex')}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const verifier = new Webhook(secret);

  const record = (
    channel: RecordedNotification['kind'],
    text: string,
    headers: Record<string, string | string[] | undefined>,
    status: number,
    read: (body: unknown) => { event: string | null; target: string | null; runId: string | null },
  ) => {
    const parsed = parseJson(text);
    records.push({
      time: isoTime(opts.clock.now()),
      channel,
      kind: channel,
      ...read(parsed),
      body: parsed ?? text,
      rawBody: text,
      headers: headersOf(headers),
      status,
    });
  };
  const fromFacts = (facts: Facts) => ({
    event: facts.get('Event') ?? null,
    target: facts.get('Target') ?? null,
    runId: facts.get('Run') ?? null,
  });

  acceptRawBodies(teamsHost.app);
  teamsHost.app.post<{ Params: { id: string }; Querystring: Record<string, string>; Body: string }>(
    '/workflows/:id/triggers/manual/paths/invoke',
    async (req, reply) => {
      // Logic Apps refuses a wrong signature before the flow runs; nothing reaches the channel then.
      if (req.params.id !== workflowId || req.query.sig !== sig) {
        return reply.code(401).send({
          error: { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated.' },
        });
      }
      const text = typeof req.body === 'string' ? req.body : '';
      const status = parseJson(text) === undefined ? 400 : 202;
      record('teams', text, req.headers, status, (b) => fromFacts(teamsFacts(b)));
      if (status === 400) {
        return reply
          .code(400)
          .send({ error: { code: 'InvalidRequestContent', message: 'The request content is not valid JSON.' } });
      }
      // 202 before the flow posts: card errors would surface in the flow run, never to the sender.
      return reply.code(202).send();
    },
  );

  acceptRawBodies(slackHost.app);
  slackHost.app.post<{ Body: string }>('/services/*', async (req, reply) => {
    if (req.url.split('?')[0] !== slackPath) return reply.code(404).type('text/plain').send('no_service');
    const text = typeof req.body === 'string' ? req.body : '';
    const body = parseJson(text) as { text?: unknown; blocks?: unknown } | undefined;
    const valid =
      typeof body === 'object' &&
      body !== null &&
      (typeof body.text === 'string' || Array.isArray(body.blocks)) &&
      (body.blocks === undefined || Array.isArray(body.blocks));
    const status = valid ? 200 : 400;
    record('slack', text, req.headers, status, (b) => fromFacts(slackFacts(b)));
    return reply
      .code(status)
      .type('text/plain')
      .send(valid ? 'ok' : 'invalid_payload');
  });

  acceptRawBodies(webhookHost.app);
  webhookHost.app.post<{ Body: string }>('/hooks/:id', async (req, reply) => {
    if (req.url.split('?')[0] !== hookPath) return reply.code(404).send({ error: 'no such hook' });
    const text = typeof req.body === 'string' ? req.body : '';
    let verified = true;
    try {
      verifier.verify(text, headersOf(req.headers));
    } catch {
      verified = false;
    }
    const status = verified ? 204 : 401;
    record('webhook', text, req.headers, status, (b) => {
      const data = (b as { data?: { event?: string; target?: string; runId?: string } } | undefined)?.data;
      return { event: data?.event ?? null, target: data?.target ?? null, runId: data?.runId ?? null };
    });
    return verified ? reply.code(204).send() : reply.code(401).send({ error: 'signature does not verify' });
  });

  const all: ServiceHost[] = [teamsHost, slackHost, webhookHost];
  return {
    async listen() {
      await Promise.all(all.map((h) => h.listen()));
    },
    deliveries: () => records.slice(),
    clear: () => void records.splice(0),
    urls: () => ({
      teams: `${teamsHost.url}/workflows/${workflowId}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`,
      slack: `${slackHost.url}${slackPath}`,
      webhook: `${webhookHost.url}${hookPath}`,
    }),
    secret,
  };
}

/** The generated config's `notify:` section: the three receivers, each subscribed to every event. */
export function sandboxNotifySection(events: readonly string[]): Record<string, unknown>[] {
  return [
    { name: 'teams', kind: 'teams', urlEnv: NOTIFY_ENV.teams, events: [...events] },
    { name: 'slack', kind: 'slack', urlEnv: NOTIFY_ENV.slack, events: [...events] },
    {
      name: 'webhook',
      kind: 'webhook',
      urlEnv: NOTIFY_ENV.webhook,
      secretEnv: NOTIFY_ENV.webhookSecret,
      events: [...events],
    },
  ];
}

/** The `D/notify.env` text: `export NAME=value` lines, values single-quoted for the shell. */
export function notifyEnvFile(r: Pick<NotificationReceivers, 'urls' | 'secret'>): string {
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const u = r.urls();
  return [
    '# Written by `certrotate sandbox start`: the sandbox notification receivers. `. ./notify.env` before certrotate.',
    `export ${NOTIFY_ENV.teams}=${q(u.teams)}`,
    `export ${NOTIFY_ENV.slack}=${q(u.slack)}`,
    `export ${NOTIFY_ENV.webhook}=${q(u.webhook)}`,
    `export ${NOTIFY_ENV.webhookSecret}=${q(r.secret)}`,
    '',
  ].join('\n');
}

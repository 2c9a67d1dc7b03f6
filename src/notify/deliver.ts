/**
 * Sends a notification to the configured channels. Delivery never harms a rotation: every failure (a missing env
 * var, a refused request, a timeout) becomes a `failed` result with a reason, never a throw; retries are bounded
 * (429 with Retry-After, 5xx, timeouts, network errors) inside a small time budget, so a dead receiver costs seconds,
 * not the run.
 */
import { randomUUID } from 'node:crypto';
import { registerSecret, scrubString } from '../logging/scrub.js';
import { subscribes, type NotifyChannelConfig } from './config.js';
import type { Notification } from './events.js';
import { notifierKind } from './registry.js';

/** What became of one notification on one channel; the JSON document lists these as `notifications`. */
export interface DeliveryResult {
  channel: string;
  event: string;
  status: 'sent' | 'failed';
  /** HTTP attempts made. */
  attempts: number;
  /** Why it failed (scrubbed: never the URL). */
  error?: string;
}

/** How delivery runs; tests pass a fake clock and sleep. */
export interface DeliveryOptions {
  /** The environment the URLs and secrets are read from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Total time for one channel's attempts (default 10 s). */
  budgetMs?: number;
  /** One attempt's timeout (default 5 s). */
  attemptTimeoutMs?: number;
  /** At most this many attempts (default 3). */
  maxAttempts?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

// Not unref'd: the command awaits these waits, and an unref'd timer would let the process exit before they end.
const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retry-After in ms (seconds or an HTTP date), capped by the caller's budget. */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Sends `n` to one channel; resolves with the result, never rejects. */
export async function deliverTo(
  channel: NotifyChannelConfig,
  n: Notification,
  opts: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const doFetch = opts.fetch ?? fetch;
  const budget = opts.budgetMs ?? 10_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  const base = { channel: channel.name, event: n.event };
  const fail = (attempts: number, error: string): DeliveryResult => ({
    ...base,
    status: 'failed',
    attempts,
    error: scrubString(error),
  });
  const kind = notifierKind(channel.kind);
  if (!kind) return fail(0, `unknown channel kind ${channel.kind}`);
  const url = env[channel.urlEnv];
  if (!url)
    return fail(0, `environment variable ${channel.urlEnv} (notify channel "${channel.name}" urlEnv) is not set`);
  registerSecret(url);
  const secret = channel.secretEnv ? env[channel.secretEnv] : undefined;
  if (kind.needsSecret && !secret) {
    return fail(
      0,
      `environment variable ${channel.secretEnv ?? '(secretEnv)'} (notify channel "${channel.name}" secretEnv) is not set`,
    );
  }
  registerSecret(secret);
  const id = `msg_${randomUUID().replace(/-/g, '')}`;
  const started = now();
  let attempts = 0;
  let lastError = '';
  while (attempts < maxAttempts) {
    attempts++;
    let request;
    try {
      // Rendered per attempt: the webhook timestamp is the attempt's, the id stays the same.
      request = kind.render(n, { id, now: now(), ...(secret ? { secret } : {}) });
    } catch (err) {
      return fail(attempts, (err as Error).message);
    }
    let waitMs = 1000 * 2 ** (attempts - 1);
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(opts.attemptTimeoutMs ?? 5000),
      });
      const text = await res.text().catch(() => '');
      if (kind.accepted(res.status, text)) return { ...base, status: 'sent', attempts };
      lastError = `HTTP ${res.status}${text ? ` ${text.slice(0, 200)}` : ''}`;
      const retryable = res.status === 429 || res.status >= 500;
      if (!retryable) return fail(attempts, lastError);
      waitMs = retryAfterMs(res.headers.get('retry-after'), now()) ?? waitMs;
    } catch (err) {
      const e = err as Error;
      lastError = e.name === 'TimeoutError' ? 'timed out' : ((e.cause as Error | undefined)?.message ?? e.message);
    }
    if (attempts >= maxAttempts) break;
    if (now() - started + waitMs > budget) {
      lastError += ` (no retry: the ${Math.round(budget / 1000)}s budget would be exceeded)`;
      break;
    }
    await sleep(waitMs);
  }
  return fail(attempts, lastError);
}

/** Sends `n` to every channel that subscribes to its event and target, in parallel. */
export async function notifyAll(
  channels: readonly NotifyChannelConfig[],
  n: Notification,
  opts: DeliveryOptions = {},
): Promise<DeliveryResult[]> {
  const wanted = channels.filter((c) => subscribes(c, n.event, n.target));
  return Promise.all(wanted.map((c) => deliverTo(c, n, opts)));
}

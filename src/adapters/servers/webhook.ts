/**
 * A `webhook` server target: the server pulls its key from Key Vault itself. certrotate POSTs
 * `{secretId, thumbprint}` to the webhook and then polls the server's health URL until it reports the new thumbprint.
 *
 * The request also carries a fencing token where certrotate knows it: `notBefore` (the new key's validity start) and
 * `runId`; a restore says `action: "restore"` and `replaces` (the key it takes out). A server holding a newer key
 * answers 409 `{inUse: {thumbprint, notBefore}}`, which becomes the non-retryable `serverHasNewerKey` (README, server
 * kinds): servers never move backwards, however late a request lands.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { duration, httpsUrl } from '../../config/fields.js';
import { systemClock } from '../../runs/system-clock.js';
import { AdapterError, type CallOptions, type Clock, type KeyRef, type ServerKeyTarget } from '../ports.js';
import { classifyHttpFailure } from '../azure/errors.js';
import { httpRequest, serviceError } from '../azure/http.js';
import { defineServerKind } from './server-kind.js';

/** `server: { kind: webhook, url, healthUrl?, authHeaderEnv?, timeout? }` (DESIGN §5a). */
export const webhookServerSchema = z.strictObject({
  kind: z.literal('webhook'),
  url: httpsUrl,
  /** Where the server reports the thumbprint it uses; default: `<url origin>/health`. */
  healthUrl: httpsUrl.optional(),
  /** Environment variable holding the Authorization header value sent to the webhook. */
  authHeaderEnv: z.string().min(1).optional(),
  timeout: duration.default(60_000),
});

type WebhookConfig = z.output<typeof webhookServerSchema>;

/** Options of {@link createWebhookTarget}. */
export interface WebhookTargetOptions {
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Pause between health polls, ms (default 1000). */
  pollIntervalMs?: number;
}

/** The health URL: the configured one, else `<webhook origin>/health`. */
export function healthUrlOf(server: WebhookConfig): string {
  return server.healthUrl ?? `${new URL(server.url).origin}/health`;
}

/** The key a 409 answer names as the one in use (`{inUse: {thumbprint, notBefore}}`), when it names one. */
export function newerKeyInUse(body: unknown): { thumbprint: string; notBefore?: string } | undefined {
  const inUse = (body as { inUse?: { thumbprint?: unknown; notBefore?: unknown } } | undefined)?.inUse;
  if (typeof inUse?.thumbprint !== 'string') return undefined;
  return {
    thumbprint: inUse.thumbprint.toUpperCase(),
    ...(typeof inUse.notBefore === 'string' ? { notBefore: inUse.notBefore } : {}),
  };
}

/** A `webhook` {@link ServerKeyTarget}. */
export function createWebhookTarget(
  target: string,
  server: WebhookConfig,
  opts: WebhookTargetOptions,
): ServerKeyTarget {
  const env = opts.env ?? process.env;
  const healthUrl = healthUrlOf(server);
  const interval = opts.pollIntervalMs ?? 1000;

  async function health(o?: CallOptions) {
    // The health endpoint answers 503 while the key it holds does not work, and still names that key.
    const res = await httpRequest(
      healthUrl,
      { ...(o?.signal ? { signal: o.signal } : {}), timeoutMs: 30_000 },
      {
        operation: `server ${target}: health at ${healthUrl}`,
      },
    );
    const body = (res.body ?? {}) as { thumbprint?: unknown; status?: unknown; error?: unknown };
    const thumbprint = typeof body.thumbprint === 'string' ? body.thumbprint.toUpperCase() : undefined;
    const healthy = res.status >= 200 && res.status < 300 && body.status !== 'unhealthy';
    const detail = serviceError(res.body).message ?? (healthy ? undefined : `HTTP ${res.status}`);
    return { thumbprint, healthy, ...(detail ? { detail } : {}), status: res.status };
  }

  async function install(key: KeyRef, action: 'install' | 'restore', o?: CallOptions) {
    const wanted = key.thumbprint.toUpperCase();
    // Observe first: a key already in use needs no call (a re-run after a crash lands here).
    const observed = (await health(o)).thumbprint;
    if (observed === wanted) return;
    let authorization: string | undefined;
    if (server.authHeaderEnv) {
      authorization = env[server.authHeaderEnv];
      if (!authorization) {
        throw new AdapterError({
          code: 'invalidRequest',
          message: `server ${target}: authHeaderEnv names ${server.authHeaderEnv}, but that environment variable is not set`,
          retryable: false,
        });
      }
    }
    const operation = `server ${target}: webhook ${action}`;
    const res = await httpRequest(
      server.url,
      {
        method: 'POST',
        json: {
          secretId: key.secretId,
          thumbprint: wanted,
          ...(key.notBefore ? { notBefore: key.notBefore } : {}),
          ...(o?.runId ? { runId: o.runId } : {}),
          // A restore moves back on purpose; `replaces` lets the server refuse it once another key took over.
          ...(action === 'restore' ? { action: 'restore', ...(observed ? { replaces: observed } : {}) } : {}),
        },
        headers: authorization ? { authorization } : {},
        timeoutMs: server.timeout,
        ...(o?.signal ? { signal: o.signal } : {}),
      },
      { operation },
    );
    const inUse = res.status === 409 ? newerKeyInUse(res.body) : undefined;
    if (inUse) {
      throw new AdapterError({
        code: 'serverHasNewerKey',
        message: `server ${target} uses key ${inUse.thumbprint}${inUse.notBefore ? ` (notBefore ${inUse.notBefore})` : ''}, newer than ${wanted}: the webhook refused the ${action}`,
        retryable: false,
        status: 409,
      });
    }
    if (res.status < 200 || res.status >= 300) {
      const err = serviceError(res.body);
      throw new AdapterError(
        classifyHttpFailure(
          {
            status: res.status,
            ...(err.code ? { serviceCode: err.code } : {}),
            message: err.message ?? res.text.slice(0, 300),
            headers: res.headers,
          },
          { operation },
        ),
      );
    }
    opts.logger?.info({ target, thumbprint: wanted, action }, 'webhook accepted the key');
    const deadline = opts.clock.now() + server.timeout;
    let last: string | undefined;
    for (;;) {
      last = (await health(o)).thumbprint;
      if (last === wanted) return;
      if (opts.clock.now() + interval > deadline) break;
      await opts.clock.sleep(interval, o?.signal);
    }
    throw new AdapterError({
      code: 'timeout',
      message: `server ${target} still reports ${last ?? 'no key'} ${server.timeout / 1000}s after the webhook, not ${wanted}`,
      retryable: true,
    });
  }

  return {
    manual: false,
    async currentKey(o) {
      const h = await health(o);
      return h.thumbprint ? { thumbprint: h.thumbprint } : {};
    },
    install: (key, o) => install(key, 'install', o),
    restore: (key, o) => install(key, 'restore', o),
    async checkHealth(o) {
      const h = await health(o);
      return { healthy: h.healthy, ...(h.detail ? { detail: h.detail } : {}) };
    },
  };
}

/** The `webhook` server kind. */
export const webhookServer = defineServerKind({
  kind: 'webhook',
  schema: webhookServerSchema,
  create: (target, server, deps) =>
    createWebhookTarget(target, server, {
      clock: deps.clock ?? systemClock,
      ...(deps.logger ? { logger: deps.logger } : {}),
      ...(deps.env ? { env: deps.env } : {}),
      ...(deps.pollIntervalMs !== undefined ? { pollIntervalMs: deps.pollIntervalMs } : {}),
    }),
});

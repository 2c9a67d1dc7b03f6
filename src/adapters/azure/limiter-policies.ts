/**
 * The {@link ServiceLimiter} wired into each client kind: a core-rest-pipeline policy (Key Vault, @azure/identity's
 * token requests) and a Graph client middleware.
 *
 * Interplay with the SDKs' own retries, chosen deliberately:
 * - core-rest-pipeline's `defaultRetryPolicy` (Retry phase) runs `throttlingRetryStrategy` (429/503 with a
 *   Retry-After) and an exponential strategy. Our policy is added `perRetry`, i.e. after the Sign phase, nearest the
 *   wire: each attempt the SDK makes is admitted and counted, and a throttle is absorbed here (retried within the
 *   request's deadline, pausing the key for everyone). Only a throttle whose wait passes the deadline reaches the SDK
 *   policy. The Key Vault clients run with `maxRetries: 0` (certificate-store.ts: the machine owns retries), so such
 *   a 429 surfaces as `throttled` with its retry-after and the step waits durably. @azure/identity keeps its
 *   `maxRetries: 3`: a token request past our deadline may be retried by its throttling strategy, which is what MSAL
 *   documents for the token endpoint (429 + Retry-After: 60).
 * - The Graph client's RetryHandler sits before our middleware in the chain, so it sees a 429 only after ours gave
 *   up; its callback (graph-client.ts) retries only short Retry-After waits, which by then have been exceeded.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { keysForRequest, type ServiceLimiter } from './limiter.js';

/** The name of the limiter's pipeline policy. */
export const limiterPolicyName = 'certrotateLimiterPolicy';

/** A pipeline policy that sends every attempt through `limiter` (add it with `position: 'perRetry'`). */
export function limiterPolicy(limiter: ServiceLimiter): PipelinePolicy {
  return {
    name: limiterPolicyName,
    sendRequest: (request, next) =>
      limiter.run(keysForRequest({ url: request.url, method: request.method }), () => next(request), {
        method: request.method,
        ...(request.abortSignal ? { signal: request.abortSignal as AbortSignal } : {}),
        facts: (res) => ({ status: res.status, header: (n) => res.headers.get(n) }),
      }),
  };
}

/** SDK client options that put {@link limiterPolicy} on a client's pipeline (none without a limiter). */
export function limiterClientOptions(limiter: ServiceLimiter | undefined): {
  additionalPolicies?: { policy: PipelinePolicy; position: 'perRetry' }[];
} {
  return limiter ? { additionalPolicies: [{ policy: limiterPolicy(limiter), position: 'perRetry' }] } : {};
}

/**
 * A Graph middleware sending every request through `limiter` under the caller's app+tenant keys. It is placed just
 * before the HTTP handler, so the RetryHandler's own attempts are each admitted too.
 */
export class GraphLimiterMiddleware implements Middleware {
  #next: Middleware | undefined;

  constructor(
    private readonly limiter: ServiceLimiter,
    private readonly caller: { appId: string; tenantId: string },
  ) {}

  async execute(context: Context): Promise<void> {
    const next = this.#next;
    if (!next) throw new Error('GraphLimiterMiddleware needs a next middleware');
    const req = context.request;
    const url = typeof req === 'string' ? req : req.url;
    const method = (typeof req === 'string' ? context.options?.method : req.method) ?? 'GET';
    const signal = context.options?.signal ?? undefined;
    await this.limiter.run(
      keysForRequest({ url, method, caller: this.caller }),
      async () => {
        await next.execute(context);
        return context.response;
      },
      {
        method,
        ...(signal ? { signal } : {}),
        facts: (res) => ({ status: res?.status ?? 0, header: (n) => res?.headers.get(n) ?? undefined }),
      },
    );
  }

  setNext(next: Middleware): void {
    this.#next = next;
  }
}

/** Options of {@link cachedCredential}. */
export interface TokenCacheOptions {
  now?: () => number;
  /** A token is reused until this long before it expires, ms (default 5 min). */
  marginMs?: number;
}

/**
 * `inner` with its tokens cached per scope set (one credential is one identity) for their lifetime minus a margin,
 * and concurrent requests for the same scopes sharing one in flight: a fleet scan asks Entra once per identity and
 * scope, not once per target. MSAL caches too, but only after the first answer, so N targets starting together
 * would each ask. Tokens are kept per tenant too (Key Vault's challenge names one); a request with `claims` (a CAE
 * challenge) bypasses the cache: it needs a new token.
 */
export function cachedCredential(inner: TokenCredential, opts: TokenCacheOptions = {}): TokenCredential {
  const now = opts.now ?? Date.now;
  const margin = opts.marginMs ?? 5 * 60_000;
  // `reuseUntil` is undefined while the request is in flight: everyone asking meanwhile shares it.
  const cache = new Map<string, { token: Promise<AccessToken | null>; reuseUntil?: number }>();
  return {
    getToken(scopes: string | string[], options?: GetTokenOptions) {
      if (options?.claims) return inner.getToken(scopes, options);
      // The Key Vault challenge names the tenant: a token per tenant and scope set.
      const key = `${options?.tenantId ?? ''}|${[scopes].flat().sort().join(' ')}`;
      const hit = cache.get(key);
      if (hit && (hit.reuseUntil === undefined || hit.reuseUntil > now())) return hit.token;
      const entry: { token: Promise<AccessToken | null>; reuseUntil?: number } = {
        token: inner.getToken(scopes, options).then(
          (token) => {
            if (token) entry.reuseUntil = token.expiresOnTimestamp - margin;
            else cache.delete(key);
            return token;
          },
          (err: unknown) => {
            // A failure is never cached: the next caller asks again.
            if (cache.get(key) === entry) cache.delete(key);
            throw err;
          },
        ),
      };
      cache.set(key, entry);
      return entry.token;
    },
  };
}

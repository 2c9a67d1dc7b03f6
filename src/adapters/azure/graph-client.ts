/**
 * Microsoft Graph clients. We use `@microsoft/microsoft-graph-client` rather than plain fetch: it is the maintained
 * client, parses Graph's error body into `GraphError` (code, request id, headers) and its RetryHandler honours
 * `Retry-After` on 429. We narrow that handler deliberately: a 429 is retried in-process only when the service asks
 * for a short wait (the machine sleeps longer waits itself, durably, with its own clock), and 503/504 only on GET,
 * because a POST (addKey) whose answer was lost may have taken effect.
 */
import type { TokenCredential } from '@azure/identity';
import {
  Client,
  MiddlewareFactory,
  RetryHandlerOptions,
  type AuthenticationProvider,
  type GraphRequest,
} from '@microsoft/microsoft-graph-client';
import { retryAfterMsFrom } from './errors.js';
import type { ServiceLimiter } from './limiter.js';
import { GraphLimiterMiddleware } from './limiter-policies.js';

/** Options of {@link createGraphClient}. */
export interface GraphClientOptions {
  /** `cloud.graphUrl`, e.g. https://graph.microsoft.com. */
  graphUrl: string;
  credential: TokenCredential;
  /** Longest Retry-After honoured in-process, ms (default 10 000). */
  maxInProcessWaitMs?: number;
  /** In-process retries (default 2). */
  maxRetries?: number;
  /** The shared limiter; every request then spends the budgets of `caller` (its app and tenant). */
  limiter?: ServiceLimiter;
  /** Who calls Graph: the calling app's client id (or a stable name for it) and the tenant. */
  caller?: { appId: string; tenantId: string };
}

/** The SDK's default chain with the limiter just before the HTTP handler (so each retry is admitted too). */
function middlewareWith(
  auth: AuthenticationProvider,
  limiter: ServiceLimiter,
  caller: { appId: string; tenantId: string },
) {
  const chain = MiddlewareFactory.getDefaultMiddlewareChain(auth);
  chain.splice(chain.length - 1, 0, new GraphLimiterMiddleware(limiter, caller));
  return chain;
}

/** A Graph client calling `graphUrl` as `credential`, with a token for `{graphUrl}/.default`. */
export function createGraphClient(opts: GraphClientOptions): { client: Client; retry: RetryHandlerOptions } {
  const base = opts.graphUrl.replace(/\/+$/, '');
  const scope = `${base}/.default`;
  const host = new URL(base).hostname;
  const maxWaitMs = opts.maxInProcessWaitMs ?? 10_000;
  const authProvider: AuthenticationProvider = {
    getAccessToken: async () => {
      const token = await opts.credential.getToken(scope);
      if (!token) throw new Error(`no token for ${scope}`);
      return token.token;
    },
  };
  const client = Client.initWithMiddleware({
    baseUrl: `${base}/`,
    defaultVersion: 'v1.0',
    // The SDK attaches the token only to Graph hosts and these; it compares hostnames without the port.
    ...(host === 'graph.microsoft.com' ? {} : { customHosts: new Set([host]) }),
    ...(opts.limiter
      ? { middleware: middlewareWith(authProvider, opts.limiter, opts.caller ?? { appId: 'operator', tenantId: '' }) }
      : { authProvider }),
  });
  const retry = new RetryHandlerOptions(1, opts.maxRetries ?? 2, (_delay, _attempt, request, options, response) => {
    const method = (typeof request === 'string' ? options?.method : (request as Request).method) ?? 'GET';
    if (response.status === 429) {
      const wait = retryAfterMsFrom(response.headers);
      return wait === undefined || wait <= maxWaitMs;
    }
    return method.toUpperCase() === 'GET';
  });
  return { client, retry };
}

/** Applies the narrowed retry policy and the caller's abort signal to one request. */
export function withPolicy(req: GraphRequest, retry: RetryHandlerOptions, signal?: AbortSignal): GraphRequest {
  const r = req.middlewareOptions([retry]);
  return signal ? r.option('signal', signal) : r;
}

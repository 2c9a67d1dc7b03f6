/**
 * A small JSON-over-HTTPS client on global `fetch` for the services without an SDK here (Dataverse, the Power
 * Platform API, Graph reads outside the Graph client, webhooks): every failure comes back as a classified
 * {@link AdapterError}.
 *
 * With `limit`, each attempt is admitted by the shared {@link ServiceLimiter} under the keys of the request
 * ({@link keysForRequest}: a Dataverse org, a Power Platform endpoint, Graph per app+tenant), so a 429 (or a read's
 * 503) with `Retry-After` is waited out there, for everyone sharing the key, and retried; only a throttle whose wait
 * passes the request's deadline reaches the caller, as a `throttled` error carrying its retry-after.
 */
import { AdapterError } from '../ports.js';
import { classifyError, classifyHttpFailure, type ClassifyContext } from './errors.js';
import { keysForRequest, type ServiceLimiter } from './limiter.js';

/** The limiter a request goes through, and who calls (Graph budgets are per calling app and tenant). */
export interface HttpLimit {
  limiter: ServiceLimiter;
  /** Graph requests: the calling app's client id (or a stable name for it) and the tenant. */
  caller?: { appId: string; tenantId: string };
  /** Longest total wait for this request before a throttle goes to the caller (default: the limiter's). */
  maxWaitMs?: number;
}

/** One request. */
export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  signal?: AbortSignal;
  /** Per-attempt timeout, ms (default 30 000). */
  timeoutMs?: number;
  /** Send under the shared limiter (see the module comment); without it the request goes straight out. */
  limit?: HttpLimit;
}

/** A response read in full. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

/**
 * Sends a request and reads the whole response, whatever its status (under `req.limit`, a throttle is first waited
 * out and retried while its wait fits the deadline). Throws only when no response came.
 */
export async function httpRequest(url: string, req: HttpRequest, ctx: ClassifyContext): Promise<HttpResponse> {
  const method = req.method ?? 'GET';
  const limit = req.limit;
  if (!limit) return sendOnce(url, req, ctx);
  try {
    return await limit.limiter.run(
      keysForRequest({ url, method, ...(limit.caller ? { caller: limit.caller } : {}) }),
      () => sendOnce(url, req, ctx),
      {
        method,
        ...(req.signal ? { signal: req.signal } : {}),
        ...(limit.maxWaitMs !== undefined ? { maxWaitMs: limit.maxWaitMs } : {}),
        facts: (res) => ({ status: res.status, header: (n) => res.headers.get(n) ?? undefined }),
      },
    );
  } catch (err) {
    // An abort while the limiter waited rejects with the signal's reason: the same `aborted` as one on the wire.
    if (req.signal?.aborted && !(err instanceof AdapterError)) {
      throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
    }
    throw err;
  }
}

/** One attempt, with its own timeout (a wait in the limiter does not eat into it). */
async function sendOnce(url: string, req: HttpRequest, ctx: ClassifyContext): Promise<HttpResponse> {
  const timeout = AbortSignal.timeout(req.timeoutMs ?? 30_000);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  try {
    const res = await fetch(url, {
      method: req.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(req.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...req.headers,
      },
      ...(req.json !== undefined ? { body: JSON.stringify(req.json) } : {}),
      signal,
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, text, body };
  } catch (err) {
    // The caller's own abort wins over our timeout; a timeout surfaces as retryable `timeout`.
    if (req.signal?.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
    if (timeout.aborted) {
      throw new AdapterError({
        code: 'timeout',
        message: `${ctx.operation ?? url}: no answer in time`,
        retryable: true,
      });
    }
    throw new AdapterError(classifyError(err, ctx));
  }
}

/** The service's `{error: {code, message}}` (or `{error: "text"}`), when the body has one. */
export function serviceError(body: unknown): { code?: string; message?: string } {
  if (!body || typeof body !== 'object') return {};
  const e = (body as { error?: unknown }).error;
  if (typeof e === 'string') return { message: e };
  if (e && typeof e === 'object') {
    const { code, message } = e as { code?: unknown; message?: unknown };
    return {
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof message === 'string' ? { message } : {}),
    };
  }
  return {};
}

/** Like {@link httpRequest}, but a non-2xx status throws a classified {@link AdapterError}. */
export async function httpJson(url: string, req: HttpRequest, ctx: ClassifyContext): Promise<HttpResponse> {
  const res = await httpRequest(url, req, ctx);
  if (res.status >= 200 && res.status < 300) return res;
  const err = serviceError(res.body);
  throw new AdapterError(
    classifyHttpFailure(
      {
        status: res.status,
        ...(err.code ? { serviceCode: err.code } : {}),
        message: err.message ?? res.text.slice(0, 300),
        headers: res.headers,
      },
      ctx,
    ),
  );
}

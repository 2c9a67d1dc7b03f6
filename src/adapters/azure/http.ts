/**
 * A small JSON-over-HTTPS client on global `fetch` for the services without an SDK here (Dataverse, the Power
 * Platform API, webhooks): every failure comes back as a classified {@link AdapterError}.
 */
import { AdapterError } from '../ports.js';
import { classifyError, classifyHttpFailure, type ClassifyContext } from './errors.js';

/** One request. */
export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  signal?: AbortSignal;
  /** Per-request timeout, ms (default 30 000). */
  timeoutMs?: number;
}

/** A response read in full. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

/** Sends a request and reads the whole response, whatever its status. Throws only when no response came. */
export async function httpRequest(url: string, req: HttpRequest, ctx: ClassifyContext): Promise<HttpResponse> {
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

/**
 * `--log-level debug`: one log line per HTTP call this process makes — the Azure SDKs (Graph, Key Vault, identity
 * token requests, storage-blob: node:http/https) and every fetch (Power Platform, Dataverse, webhooks: undici) —
 * with method, URL (secret query values redacted), status, duration and the request ids Microsoft support asks for.
 *
 * Node's diagnostics channels see every request of both stacks in one place, so no client can be built without it
 * and no SDK upgrade can drop a policy. Bodies and headers other than the request ids are never read.
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Logger } from 'pino';

/** Query parameters whose values are secrets: SAS parts, OAuth codes and secrets, tokens, signatures, keys. */
const SECRET_PARAM =
  /^(sig|sv|se|st|sp|spr|srt|ss|sr|skoid|sktid|skt|ske|sks|skv|code|client_secret|client_assertion|assertion|.*token.*|.*secret.*|.*password.*|.*key.*|signature)$/i;

/** `url` with the value of every secret-named query parameter replaced by `REDACTED`. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.split('?')[0] ?? url;
  }
  u.username = '';
  u.password = '';
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) u.searchParams.set(name, 'REDACTED');
  }
  return u.toString();
}

const ID_HEADERS = ['x-ms-request-id', 'client-request-id', 'x-ms-client-request-id', 'request-id'] as const;

type Ids = Partial<Record<(typeof ID_HEADERS)[number], string>>;

function idsFrom(get: (name: string) => unknown): Ids {
  const ids: Ids = {};
  for (const h of ID_HEADERS) {
    const v = get(h);
    const s = Array.isArray(v) ? String(v[0]) : v === undefined || v === null ? undefined : String(v);
    if (s) ids[h] = s;
  }
  return ids;
}

/** Reads a header out of undici's flat `[name, value, name, value…]` lists (Buffers or strings) or a string block. */
function undiciHeader(headers: unknown, name: string): string | undefined {
  if (typeof headers === 'string') {
    for (const line of headers.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && line.slice(0, i).trim().toLowerCase() === name) return line.slice(i + 1).trim();
    }
    return undefined;
  }
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
  }
  return undefined;
}

interface Started {
  at: number;
  method: string;
  url: string;
  ids: Ids;
}

let current: Logger | undefined;
let subscribed = false;

/**
 * Logs every HTTP call at debug on `logger` from now on (the latest logger wins: a command run inside `demo` logs
 * on its own). Does nothing unless `logger` is at debug or trace.
 */
export function logHttpCalls(logger: Logger): void {
  if (!logger.isLevelEnabled('debug')) return;
  current = logger;
  if (subscribed) return;
  subscribed = true;
  const node = new WeakMap<object, Started>();
  const undici = new WeakMap<object, Started>();
  const done = (s: Started, status: number | undefined, responseIds: Ids, error?: string) => {
    current?.debug(
      {
        http: {
          method: s.method,
          url: s.url,
          ...(status !== undefined ? { status } : {}),
          durationMs: Math.round(performance.now() - s.at),
          ...s.ids,
          ...responseIds,
          ...(error ? { error } : {}),
        },
      },
      `HTTP ${s.method} ${s.url} ${status ?? error ?? ''}`.trimEnd(),
    );
  };

  diagnostics.subscribe('http.client.request.start', (msg) => {
    const req = (msg as { request: ClientRequest }).request;
    // The Host header carries the port; `req.host` does not.
    const host = req.getHeader('host') ?? req.host;
    const url = redactUrl(`${req.protocol ?? 'https:'}//${String(host)}${req.path}`);
    node.set(req, { at: performance.now(), method: req.method, url, ids: idsFrom((h) => req.getHeader(h)) });
  });
  diagnostics.subscribe('http.client.response.finish', (msg) => {
    const { request, response } = msg as { request: ClientRequest; response: IncomingMessage };
    const s = node.get(request);
    if (!s) return;
    node.delete(request);
    done(
      s,
      response.statusCode,
      idsFrom((h) => response.headers[h]),
    );
  });
  diagnostics.subscribe('http.client.request.error', (msg) => {
    const { request, error } = msg as { request: ClientRequest; error: Error };
    const s = node.get(request);
    if (!s) return;
    node.delete(request);
    done(s, undefined, {}, (error as NodeJS.ErrnoException).code ?? error.name);
  });

  interface UndiciRequest {
    origin: string;
    path: string;
    method: string;
    headers: unknown;
  }
  diagnostics.subscribe('undici:request:create', (msg) => {
    const req = (msg as { request: UndiciRequest }).request;
    undici.set(req, {
      at: performance.now(),
      method: req.method,
      url: redactUrl(`${req.origin}${req.path}`),
      ids: idsFrom((h) => undiciHeader(req.headers, h)),
    });
  });
  diagnostics.subscribe('undici:request:headers', (msg) => {
    const { request, response } = msg as { request: object; response: { statusCode: number; headers: unknown } };
    const s = undici.get(request);
    if (!s) return;
    undici.delete(request);
    done(
      s,
      response.statusCode,
      idsFrom((h) => undiciHeader(response.headers, h)),
    );
  });
  diagnostics.subscribe('undici:request:error', (msg) => {
    const { request, error } = msg as { request: object; error: Error };
    const s = undici.get(request);
    if (!s) return;
    undici.delete(request);
    done(s, undefined, {}, (error as NodeJS.ErrnoException).code ?? error.name);
  });
}

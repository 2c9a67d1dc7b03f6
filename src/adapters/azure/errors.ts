/**
 * The error classifier shared by every adapter: whatever an SDK, `fetch` or a child process throws becomes a
 * plain-JSON {@link PortError} whose `code` and `retryable` let the machine decide between retrying and stopping
 * without knowing which service spoke.
 */
import { scrubString } from '../../logging/scrub.js';
import { AdapterError, isPortError, type PortError } from '../ports.js';

/** Something whose headers can be read one by one (`Headers`, the Azure SDK's `HttpHeaders`, a plain record). */
type HeaderSource =
  { get(name: string): string | null | undefined } | Record<string, string | string[] | undefined> | undefined | null;

/** Extra facts a caller knows about the call that failed. */
export interface ClassifyContext {
  /** What was being done, e.g. `Graph addKey on app 1111…`; prefixed to the message. */
  operation?: string;
  /** The call carried a proof of possession: a 401 from it means the proof was refused, not the caller. */
  proof?: boolean;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const v = (headers as { get(n: string): string | null | undefined }).get(name);
    return v ?? undefined;
  }
  const rec = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The service's requested wait in milliseconds: `retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After` as
 * seconds or an HTTP date (relative to `now`). Undefined when absent or unreadable.
 */
export function retryAfterMsFrom(headers: HeaderSource, now: number = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = header(headers, name);
    if (v !== undefined && /^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v));
  }
  const ra = header(headers, 'retry-after')?.trim();
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.round(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The first request id a response carries, to correlate with the service's own logs. */
export function requestIdFrom(headers: HeaderSource): string | undefined {
  for (const name of ['x-ms-request-id', 'request-id', 'client-request-id', 'x-ms-client-request-id']) {
    const v = header(headers, name);
    if (v) return v;
  }
  return undefined;
}

/** The facts of one failed HTTP exchange, from whichever client made it. */
export interface HttpFailure {
  status: number;
  /** The service's error code (`Throttled`, `Request_ResourceNotFound`, `CertificateNotFound`, …). */
  serviceCode?: string;
  message?: string;
  headers?: HeaderSource;
  requestId?: string;
}

const withOperation = (ctx: ClassifyContext | undefined, text: string) =>
  scrubString(ctx?.operation ? `${ctx.operation}: ${text}` : text);

/** Maps an HTTP status (plus the service's code and message) to a PortError. */
export function classifyHttpFailure(f: HttpFailure, ctx?: ClassifyContext): PortError {
  const text = [f.serviceCode, f.message].filter(Boolean).join(': ') || `HTTP ${f.status}`;
  const base = {
    status: f.status,
    ...((f.requestId ?? requestIdFrom(f.headers)) ? { requestId: f.requestId ?? requestIdFrom(f.headers) } : {}),
  };
  const retryAfterMs = retryAfterMsFrom(f.headers);
  const after = retryAfterMs === undefined ? {} : { retryAfterMs };
  const aad = classifyAadsts(text, ctx);
  if (aad) return { ...aad, ...base };
  if (f.status === 429)
    return { code: 'throttled', message: withOperation(ctx, text), retryable: true, ...after, ...base };
  if (f.status === 408 || f.status === 504) {
    return { code: 'timeout', message: withOperation(ctx, text), retryable: true, ...after, ...base };
  }
  if (f.status === 401 && ctx?.proof) {
    return {
      code: 'invalidProof',
      message: withOperation(
        ctx,
        `${text}. The proof of possession was refused: it must be signed by a key the app holds now.`,
      ),
      retryable: false,
      ...base,
    };
  }
  if (f.status === 401 || f.status === 403) {
    return {
      code: 'forbidden',
      message: withOperation(ctx, `${text}. Grant certrotate's identity the permission this call needs.`),
      retryable: false,
      ...base,
    };
  }
  // Graph answers removeKey of an unknown keyId with 400 "No credentials found to be removed": the key is gone.
  if (f.status === 404 || /No credentials found to be removed/i.test(text)) {
    return { code: 'notFound', message: withOperation(ctx, text), retryable: false, ...base };
  }
  if (f.status === 409) return { code: 'conflict', message: withOperation(ctx, text), retryable: false, ...base };
  if (f.status === 501 || f.status === 505) {
    return { code: 'invalidRequest', message: withOperation(ctx, text), retryable: false, ...base };
  }
  if (f.status >= 500)
    return { code: 'unavailable', message: withOperation(ctx, text), retryable: true, ...after, ...base };
  if (f.status >= 400) return { code: 'invalidRequest', message: withOperation(ctx, text), retryable: false, ...base };
  return { code: 'unknown', message: withOperation(ctx, text), retryable: false, ...base };
}

/**
 * Entra's AADSTS errors, found by number in a message. 700027 "key was not found" is propagation (retryable until
 * the verify deadline); "key used is expired" is fatal; the rest are fatal with a line saying what to fix.
 */
export function classifyAadsts(text: string, ctx?: ClassifyContext): PortError | undefined {
  const m = /AADSTS(\d+)/.exec(text);
  if (!m) return undefined;
  const code = Number(m[1]);
  const described = /AADSTS\d+:?\s*([^\n]*?)(?:\s*Trace ID:|\s*-\s*Correlation ID:|$)/.exec(text)?.[1] ?? text;
  const say = (s: string) => withOperation(ctx, `AADSTS${code}: ${described.trim()} ${s}`.trim());
  if (code === 700027) {
    if (/key was not found/i.test(text)) {
      return {
        code: 'keyNotFound',
        message: say('Entra does not know this key yet (it propagates for seconds to minutes after it is added).'),
        retryable: true,
      };
    }
    if (/expired/i.test(text)) {
      return {
        code: 'keyExpired',
        message: say('The certificate credential has expired: rotate with PATCH.'),
        retryable: false,
      };
    }
    return {
      code: 'invalidProof',
      message: say('The assertion was not signed by a key the app holds: check the certificate in Key Vault.'),
      retryable: false,
    };
  }
  if (code === 700016)
    return { code: 'notFound', message: say('Check the appId and tenantId in the configuration.'), retryable: false };
  if (code === 90002)
    return { code: 'notFound', message: say('Check tenantId in the configuration.'), retryable: false };
  if (code === 700024) {
    return {
      code: 'invalidRequest',
      message: say("Check this machine's clock (the assertion's time window)."),
      retryable: false,
    };
  }
  if (code === 7000215 || code === 7000222) {
    return {
      code: 'forbidden',
      message: say("Renew certrotate's own client secret (auth.clientSecret)."),
      retryable: false,
    };
  }
  return {
    code: 'forbidden',
    message: say('Entra refused the sign-in; see https://login.microsoftonline.com/error?code=' + code),
    retryable: false,
  };
}

const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);

/** Network failures before a request could be sent: no connection, no name. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function networkCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && (RETRYABLE_NETWORK.has(code) || /^E[A-Z]+$/.test(code))) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Turns anything an adapter caught into a PortError: an {@link AdapterError} or PortError as is; an Azure SDK
 * `RestError`, a Graph `GraphError` or an identity error by its status, service code and AADSTS number; aborts and
 * timeouts by name; dropped connections as retryable `unavailable`. Unrecognised errors are `unknown` and not
 * retryable: repeating a call whose failure we do not understand could repeat a side effect nobody observed.
 */
export function classifyError(thrown: unknown, ctx?: ClassifyContext): PortError {
  if (thrown instanceof AdapterError) return { ...thrown.detail };
  if (isPortError(thrown)) return { ...thrown };
  if (!(thrown instanceof Error))
    return { code: 'unknown', message: withOperation(ctx, String(thrown)), retryable: false };
  const e = thrown as Error & {
    statusCode?: number;
    code?: unknown;
    requestId?: string;
    headers?: HeaderSource;
    response?: { headers?: HeaderSource; status?: number };
    details?: { error?: { code?: string; message?: string } };
    cause?: unknown;
  };
  if (e.name === 'AbortError' || e.name === 'PollerStoppedError')
    return { code: 'aborted', message: 'aborted', retryable: false };
  if (e.name === 'TimeoutError')
    return { code: 'timeout', message: withOperation(ctx, 'the call did not answer in time'), retryable: true };
  // Azure SDK RestError and Graph GraphError both carry statusCode; GraphError has -1 for network failures.
  if (typeof e.statusCode === 'number' && e.statusCode > 0) {
    const headers = e.response?.headers ?? e.headers;
    return classifyHttpFailure(
      {
        status: e.statusCode,
        serviceCode: typeof e.code === 'string' ? e.code : e.details?.error?.code,
        message: e.details?.error?.message ?? e.message,
        headers,
        ...(e.requestId ? { requestId: e.requestId } : {}),
      },
      ctx,
    );
  }
  // No sign-in method could even try (nothing configured here): one sentence for the whole chain, before the AADSTS
  // and network checks, which would otherwise pick one line of it and call it retryable.
  const signIn = signInFailure(e);
  if (signIn) return signIn;
  // Identity errors (AuthenticationRequiredError, AuthenticationError) carry the AADSTS text in the message, or in
  // the MSAL cause.
  const causeMsg = e.cause instanceof Error ? e.cause.message : '';
  const aad = classifyAadsts(`${e.message}\n${causeMsg}`, ctx);
  if (aad) return aad;
  const net = networkCode(e);
  if (net) {
    return {
      code: net.includes('TIMEOUT') || net === 'ETIMEDOUT' ? 'timeout' : 'unavailable',
      message: withOperation(ctx, `${net}: ${e.message}`),
      retryable: RETRYABLE_NETWORK.has(net),
      // No connection was made, so nothing was sent: a write refused this way did not happen.
      ...(NOT_SENT.has(net) ? { notSent: true as const } : {}),
    };
  }
  return { code: 'unknown', message: withOperation(ctx, e.message || e.name), retryable: false };
}

/** The code of a sign-in no method of `auth` could attempt; the message says what was tried and what to do. */
export const SIGN_IN_UNAVAILABLE = 'signInUnavailable';

/** The sign-in methods of `@azure/identity`, recognised by how their "unavailable" messages begin. */
const SIGN_IN_METHODS: { name: string; match: RegExp; reason?: string }[] = [
  {
    name: 'environment variables',
    match: /^EnvironmentCredential\b/,
    reason: 'AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate are not set',
  },
  {
    name: 'workload identity',
    match: /^WorkloadIdentityCredential\b/,
    reason: 'AZURE_CLIENT_ID or AZURE_FEDERATED_TOKEN_FILE is not set',
  },
  {
    name: 'managed identity',
    match: /^(ManagedIdentityCredential\b|Attempted to use the (IMDS|token exchange))/,
    reason: 'no managed identity endpoint answered, not on Azure',
  },
  { name: 'VS Code', match: /Visual Studio Code/, reason: 'not signed in to Azure' },
  { name: 'Azure CLI', match: /Azure CLI|az login|az account/ },
  { name: 'Azure PowerShell', match: /PowerShell|Connect-AzAccount|Az\.Account/ },
  { name: 'Azure Developer CLI', match: /Azure Developer CLI|azd auth/ },
];

/** Why one CLI-based method was unavailable, in a clause. */
function cliReason(message: string): string {
  if (/could not be found|couldn't be found|not installed|Unable to execute|not recognized|ENOENT/i.test(message)) {
    return 'not installed';
  }
  if (/login|Connect-AzAccount|sign in|signed in/i.test(message)) return 'not signed in';
  return firstSentence(message);
}

function firstSentence(message: string): string {
  const s = (/^[^\n]*?[.!](\s|$)/.exec(message)?.[0] ?? message.split('\n')[0] ?? message).trim().replace(/\.$/, '');
  return s.length > 100 ? `${s.slice(0, 99)}…` : s;
}

/** "Azure CLI (not installed)" for one error of a credential chain. */
function describeMethod(message: string): string {
  const method = SIGN_IN_METHODS.find((m) => m.match.test(message));
  if (!method) return firstSentence(message);
  return `${method.name} (${method.reason ?? cliReason(message)})`;
}

const UNAVAILABLE_NAMES = new Set(['CredentialUnavailableError', 'AuthenticationRequiredError']);

/**
 * A sign-in that no configured method could attempt — `@azure/identity`'s AggregateAuthenticationError of
 * "unavailable" errors (the DefaultAzureCredential chain) or a lone CredentialUnavailableError — as one sentence:
 * each method tried and why it was unavailable, then what to do. Undefined for anything else (a refused secret, an
 * AADSTS answer): those are Entra's answers, classified by number.
 */
export function signInFailure(thrown: unknown): PortError | undefined {
  let cur: unknown = thrown;
  for (let i = 0; i < 4 && cur instanceof Error; i++) {
    // The Graph client keeps only the message and the name (as `code`) of what its auth provider threw.
    const code = (cur as Error & { code?: unknown }).code;
    const name = typeof code === 'string' && /Error$/.test(code) ? code : cur.name;
    if (name === 'AggregateAuthenticationError') {
      const errors = (cur as Error & { errors?: unknown }).errors;
      const parts = Array.isArray(errors)
        ? errors.map((e) => (e instanceof Error ? { name: e.name, message: e.message } : { name: '', message: '' }))
        : chainLines(cur.message);
      if (parts.length === 0 || !parts.every((p) => UNAVAILABLE_NAMES.has(p.name))) return undefined;
      return signInMessage(parts.map((p) => describeMethod(p.message)));
    }
    if (name === 'CredentialUnavailableError') return signInMessage([describeMethod(cur.message)]);
    cur = (cur as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The errors of an AggregateAuthenticationError's message: a heading line, then one `Name: message` per credential
 * (a message may run over several lines).
 */
function chainLines(message: string): { name: string; message: string }[] {
  const parts: { name: string; message: string }[] = [];
  for (const line of message.split('\n').slice(1)) {
    const m = /^(\w+Error): ?(.*)$/.exec(line);
    const last = parts[parts.length - 1];
    if (m) parts.push({ name: m[1] ?? '', message: m[2] ?? '' });
    else if (last) last.message += `\n${line}`;
  }
  return parts;
}

function signInMessage(methods: string[]): PortError {
  const tried = [...new Set(methods)].join(', ');
  return {
    code: SIGN_IN_UNAVAILABLE,
    message: scrubString(
      `cannot sign in to Azure: tried ${tried}; run \`az login\` here, use workload identity in a pipeline, ` +
        'or set auth.kind in the configuration',
    ),
    retryable: false,
  };
}

/** Classifies and wraps: what every adapter method's catch block rethrows. */
export function toAdapterError(thrown: unknown, ctx?: ClassifyContext): AdapterError {
  if (thrown instanceof AdapterError) return thrown;
  return new AdapterError(classifyError(thrown, ctx));
}

/** Runs `fn`, rethrowing anything it throws as a classified {@link AdapterError}. */
export async function classified<T>(ctx: ClassifyContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toAdapterError(err, ctx);
  }
}

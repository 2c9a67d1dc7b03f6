/**
 * A Key Vault client for the conformance tests built from the wire documents only — `node:https` with the sandbox
 * CA, no Azure SDK: the challenge flow by hand (an unauthenticated request, the 401's `WWW-Authenticate`, a
 * client-credentials token from the authority it names for `{resource}/.default`, then the request again with the
 * bearer token), JSON in and out. Sources: "Authentication, requests and responses" (learn.microsoft.com/azure/
 * key-vault/general/authentication-requests-and-responses) and the Entra v2.0 client-credentials flow
 * (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
 */
import https from 'node:https';

/** The api-version every request carries; the service has no default. */
export const API_VERSION = '7.5';

export interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or undefined for an empty or non-JSON body. */
  body: unknown;
  text: string;
}

/** One HTTPS exchange trusting `ca`; the body, if any, is sent as JSON unless it is already a string. */
export function request(
  method: string,
  url: string,
  opts: { ca: string; headers?: Record<string, string>; body?: unknown } = { ca: '' },
): Promise<WireResponse> {
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: opts.ca,
        headers: {
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // Not JSON: the caller reads `text`.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The `key="value"` pairs of a `WWW-Authenticate: Bearer …` challenge. */
export function parseChallenge(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.replace(/^Bearer\s+/i, '').matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** How the client obtains a bearer token once it has read the challenge. */
export type TokenSource = (challenge: { authorization: string; resource: string }) => Promise<string>;

/** Client credentials with a secret against the authority the challenge names (Entra v2.0 token endpoint). */
export function clientSecretTokens(clientId: string, clientSecret: string, ca: string): TokenSource {
  return async ({ authorization, resource }) => {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: `${resource}/.default`,
    }).toString();
    const res = await request('POST', `${authorization}/oauth2/v2.0/token`, {
      ca,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    const token = (res.body as { access_token?: string } | undefined)?.access_token;
    if (res.status !== 200 || !token) throw new Error(`token request failed: ${res.status} ${res.text}`);
    return token;
  };
}

/** A vault client: paths are relative to the vault URL and get `api-version` unless they carry one. */
export class VaultWire {
  #token: string | undefined;
  /** The challenge seen on the first request, for tests to inspect. */
  challenge: Record<string, string> | undefined;

  constructor(
    readonly vaultUrl: string,
    private readonly ca: string,
    private readonly tokens: TokenSource,
  ) {}

  /** An absolute URL for `path` (or `path` itself when absolute, e.g. a `nextLink`), with api-version. */
  url(path: string): string {
    const u = new URL(path, this.vaultUrl);
    if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', API_VERSION);
    return u.toString();
  }

  /** A request with the bearer token, running the challenge first if no token is held yet. */
  async send(method: string, path: string, body?: unknown): Promise<WireResponse> {
    if (!this.#token) {
      // The first request goes without a token and without its body, as the SDKs do; the 401 names the authority.
      const first = await request(method, this.url(path), { ca: this.ca });
      const header = first.headers['www-authenticate'];
      if (first.status !== 401 || typeof header !== 'string') {
        throw new Error(`expected the 401 challenge, got ${first.status}`);
      }
      this.challenge = parseChallenge(header);
      const { authorization, resource } = this.challenge;
      if (!authorization || !resource) throw new Error(`challenge without authorization/resource: ${header}`);
      this.#token = await this.tokens({ authorization, resource });
    }
    return request(method, this.url(path), {
      ca: this.ca,
      headers: { authorization: `Bearer ${this.#token}` },
      body,
    });
  }

  /** `send`, failing the test unless the status is `expected`; resolves the parsed body. */
  async expect<T = Record<string, unknown>>(
    expected: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const res = await this.send(method, path, body);
    if (res.status !== expected) {
      throw new Error(`${method} ${path}: expected ${expected}, got ${res.status}: ${res.text}`);
    }
    return res.body as T;
  }

  /** Follows `nextLink`s from `path` and returns every page, so tests can check paging as well as content. */
  async pages<T>(path: string): Promise<Array<{ value: T[]; nextLink?: string | null }>> {
    const out: Array<{ value: T[]; nextLink?: string | null }> = [];
    let next: string | null | undefined = path;
    while (next) {
      const page: { value: T[]; nextLink?: string | null } = await this.expect(200, 'GET', next);
      out.push(page);
      next = page.nextLink;
      if (out.length > 100) throw new Error('more than 100 pages: nextLink never ends');
    }
    return out;
  }
}

/** A self-signed certificate create body from the CreateCertificate REST reference (policy in wire casing). */
export function createBody(subject: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    policy: {
      key_props: { exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false },
      secret_props: { contentType: 'application/x-pem-file' },
      x509_props: { subject, validity_months: 12 },
      issuer: { name: 'Self' },
    },
    ...extra,
  };
}

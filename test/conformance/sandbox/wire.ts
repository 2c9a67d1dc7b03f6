/**
 * The wire-level harness of the Entra and Graph conformance tests: raw HTTPS requests (node:https, trusting only the
 * sandbox CA for that request) and JWTs signed with plain node:crypto, built from the REST references rather than
 * from the SDKs certrotate embeds, so the sandbox is held to what the documents say Azure accepts.
 */
import { createHash, createPrivateKey, randomUUID, sign, constants } from 'node:crypto';
import { request } from 'node:https';
import type { Sandbox } from '../../../src/sandbox/index.js';
import type { CertificateMaterial } from '../../../src/sandbox/pki.js';

export interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
}

/** One HTTPS request with the sandbox CA as the only trust anchor; the body is parsed as JSON when there is one. */
export function https(
  sb: Sandbox,
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: sb.caPem, headers: opts.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
        }),
      );
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** POST to the tenant's v2.0 token endpoint with a form body (Entra v2.0 client-credentials flow). */
export function postTokenForm(sb: Sandbox, form: Record<string, string>): Promise<WireResponse> {
  return https(sb, 'POST', `${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

/** An app-only token for `scope` by client secret, read from the raw token response. */
export async function secretToken(sb: Sandbox, clientId: string, secret: string, scope: string): Promise<string> {
  const res = await postTokenForm(sb, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: secret,
    scope,
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body!.access_token as string;
}

/** A Graph request with a bearer token; `path` starts with `/v1.0/`, or is an absolute URL (a nextLink). */
export function graph(sb: Sandbox, token: string, method: string, path: string, body?: unknown): Promise<WireResponse> {
  const url = path.startsWith('https://') ? path : `${sb.urls.graph}${path}`;
  return https(sb, method, url, {
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
/** base64url with the `=` padding kept, as MSAL for Python and other libraries write thumbprints. */
export const paddedBase64url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

export const sha1 = (der: Uint8Array) => createHash('sha1').update(der).digest();
export const sha256 = (der: Uint8Array) => createHash('sha256').update(der).digest();

/** Signs a compact JWS with node:crypto alone: RS256 (PKCS#1 v1.5) or PS256 (PSS, MGF1-SHA-256, salt 32). */
export function signJws(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  privateKeyPkcs8: Uint8Array,
): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const key = createPrivateKey({ key: Buffer.from(privateKeyPkcs8), format: 'der', type: 'pkcs8' });
  const signature =
    header.alg === 'PS256'
      ? sign('sha256', Buffer.from(input), {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${b64url(signature)}`;
}

/**
 * A client assertion as Entra's certificate-credentials doc describes it: aud = the token endpoint, iss = sub =
 * client id, jti, nbf/iat/exp within ten minutes; `header` adds the thumbprint (and x5c) fields under test.
 */
export function clientAssertion(
  sb: Sandbox,
  clientId: string,
  signer: Pick<CertificateMaterial, 'privateKeyPkcs8'>,
  header: Record<string, unknown>,
): string {
  const now = Math.floor(sb.clock.now() / 1000);
  return signJws(
    { typ: 'JWT', ...header },
    {
      aud: `${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/token`,
      iss: clientId,
      sub: clientId,
      jti: randomUUID(),
      nbf: now,
      iat: now,
      exp: now + 600,
    },
    signer.privateKeyPkcs8,
  );
}

/** The token request of the client-credentials flow with a certificate assertion. */
export function assertionForm(clientId: string, assertion: string, scope: string): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: clientId,
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  };
}

/** The payload of a JWT, unverified (the tests read what the sandbox minted). */
export function jwtPayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Graph's error body shape (Graph errors doc): `error.code`, `error.message`, `innerError` with a zone-less date. */
export function graphError(res: WireResponse): { code: string; message: string; innerError: Record<string, string> } {
  const error = (res.body as { error?: { code: string; message: string; innerError: Record<string, string> } }).error;
  if (!error) throw new Error(`not a Graph error body: ${JSON.stringify(res.body)}`);
  return error;
}

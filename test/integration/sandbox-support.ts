/**
 * Shared set-up for the sandbox conformance tests: trusting the sandbox CA in-process and building the clients
 * and JWTs the tests drive the services with. Clients are the real SDKs; nothing intercepts HTTP.
 */
import { randomUUID } from 'node:crypto';
import tls from 'node:tls';
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { Client, type AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import { SignJWT, importPKCS8 } from 'jose';
import type { Sandbox } from '../../src/sandbox/index.js';
import { thumbprintOf, type CertificateMaterial } from '../../src/sandbox/pki.js';

/**
 * Node 24: `tls.setDefaultCACertificates` changes the default CA store at run time, which `node:https` (identity's
 * pipeline) and global `fetch` (the Graph client) both use — so in-process tests need no NODE_EXTRA_CA_CERTS.
 */
export function trustSandboxCa(caPem: string): void {
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), caPem]);
}

/** A fresh certificate credential (MSAL caches tokens per instance, so each check gets its own). */
export function certificateCredential(sb: Sandbox, appId: string, pemBundle: string): ClientCertificateCredential {
  return new ClientCertificateCredential(
    sb.tenantId,
    appId,
    { certificate: pemBundle },
    { authorityHost: sb.urls.entra, disableInstanceDiscovery: true },
  );
}

export function secretCredential(sb: Sandbox, clientId: string, secret: string): ClientSecretCredential {
  return new ClientSecretCredential(sb.tenantId, clientId, secret, {
    authorityHost: sb.urls.entra,
    disableInstanceDiscovery: true,
  });
}

/** The Graph client as an adapter would build it: base URL and custom host (no port), a token per request. */
export function graphClient(
  sb: Sandbox,
  credential: { getToken(scope: string): Promise<{ token: string } | null> },
): Client {
  const authProvider: AuthenticationProvider = {
    async getAccessToken() {
      const t = await credential.getToken('https://graph.microsoft.com/.default');
      if (!t) throw new Error('no token');
      return t.token;
    },
  };
  return Client.initWithMiddleware({
    authProvider,
    baseUrl: `${sb.urls.graph}/`,
    customHosts: new Set([new URL(sb.urls.graph).hostname]),
  });
}

/** Graph's proof-of-possession JWT for addKey/removeKey, signed with `signer`'s private key (RS256 + x5t, like Microsoft's sample). */
export async function proofJwt(
  signer: CertificateMaterial,
  opts: { iss: string; aud?: string; nbf?: number; lifetimeSeconds?: number },
): Promise<string> {
  const nbf = opts.nbf ?? Math.floor(Date.now() / 1000);
  const key = await importPKCS8(
    `-----BEGIN PRIVATE KEY-----\n${Buffer.from(signer.privateKeyPkcs8).toString('base64')}\n-----END PRIVATE KEY-----`,
    'RS256',
  );
  const x5t = Buffer.from(signer.thumbprint, 'hex').toString('base64url');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t, kid: signer.thumbprint })
    .setIssuer(opts.iss)
    .setAudience(opts.aud ?? '00000002-0000-0000-c000-000000000000')
    .setNotBefore(nbf)
    .setExpirationTime(nbf + (opts.lifetimeSeconds ?? 600))
    .sign(key);
}

/** A client assertion built by hand, as older MSAL or other stacks send it (RS256 + x5t). */
export async function rs256Assertion(
  sb: Sandbox,
  clientId: string,
  signer: CertificateMaterial,
  aud?: string,
): Promise<string> {
  const key = await importPKCS8(
    `-----BEGIN PRIVATE KEY-----\n${Buffer.from(signer.privateKeyPkcs8).toString('base64')}\n-----END PRIVATE KEY-----`,
    'RS256',
  );
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t: Buffer.from(signer.thumbprint, 'hex').toString('base64url') })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(aud ?? `${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/token`)
    .setJti(randomUUID())
    .setNotBefore(now)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(key);
}

/** Posts a form to the token endpoint and returns status, headers and JSON body. */
export async function postToken(sb: Sandbox, form: Record<string, string>) {
  const res = await fetch(`${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/token?client-request-id=${randomUUID()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Decodes a JWT payload without verifying it (the tests check what the sandbox minted). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Rebuilds the parts of a certificate's material a test signs with from a PEM bundle (certificate + PKCS#8 key). */
export function materialFromPem(pem: string): CertificateMaterial {
  const der = (label: string) => {
    const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(pem);
    if (!m?.[1]) throw new Error(`no ${label} in the PEM`);
    return new Uint8Array(Buffer.from(m[1].replace(/\s/g, ''), 'base64'));
  };
  const certDer = der('CERTIFICATE');
  return {
    certDer,
    privateKeyPkcs8: der('PRIVATE KEY'),
    thumbprint: thumbprintOf(certDer),
    pemBundle: pem,
  } as CertificateMaterial;
}

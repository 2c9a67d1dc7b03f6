/**
 * Entra v2.0 token endpoint, certificate credentials, held to the wire documents: assertions built and signed with
 * node:crypto alone (no JOSE library), sent as a raw form POST over HTTPS, and the same flow through
 * `@azure/msal-node` used directly. Sources: Entra "Microsoft identity platform application authentication
 * certificate credentials" (certificate-credentials.md: header `alg` RS256 + `x5t`, or PS256 + `x5t#S256`, optional
 * `x5c`), RFC 7515 §4.1.6–4.1.8 (x5c, x5t, x5t#S256), v2-oauth2-client-creds-grant-flow.md (the form).
 */
import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { toPem, type CertificateMaterial } from '../../../src/sandbox/pki.js';
import { certificateExpiringIn, registerCurrentKey } from '../../../src/sandbox/world.js';
import { trustSandboxCa } from '../../integration/sandbox-support.js';
import { assertionForm, clientAssertion, jwtPayload, paddedBase64url, postTokenForm, sha1, sha256 } from './wire.js';

const scope = 'https://graph.microsoft.com/.default';
let sb: Sandbox;
let appId: string;
let key: CertificateMaterial;

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0 });
  const app = sb.directory.createApp({ displayName: `conformance-${randomUUID().slice(0, 8)}` });
  key = await certificateExpiringIn(sb.pool, sb.clock.now(), `CN=${app.displayName}`, 300, 730);
  registerCurrentKey(sb.directory, app, key);
  appId = app.appId;
});
afterAll(() => sb?.stop());

async function tokenWith(header: Record<string, unknown>) {
  return postTokenForm(sb, assertionForm(appId, clientAssertion(sb, appId, key, header), scope));
}

describe('certificate assertion headers (compared as thumbprint bytes)', () => {
  // Azure: x5t is base64url of the SHA-1 thumbprint (RFC 7515 §4.1.7); unpadded is what the spec writes.
  it('accepts RS256 with an unpadded base64url x5t', async () => {
    const res = await tokenWith({ alg: 'RS256', x5t: sha1(key.certDer).toString('base64url') });
    expect(res.status).toBe(200);
    expect(jwtPayload(res.body!.access_token as string)).toMatchObject({
      appid: appId,
      aud: 'https://graph.microsoft.com',
    });
  });

  // Azure accepts the same thumbprint with `=` padding (what MSAL for Python sends); issue 14 reproduced the refusal.
  it('accepts RS256 with a padded base64url x5t', async () => {
    const padded = paddedBase64url(sha1(key.certDer));
    expect(padded.endsWith('=')).toBe(true);
    const res = await tokenWith({ alg: 'RS256', x5t: padded });
    expect(res.status).toBe(200);
  });

  // Azure: PS256 with x5t#S256, the SHA-256 thumbprint (certificate-credentials.md; msal-node 2.11+ sends it).
  it('accepts PS256 with x5t#S256, unpadded and padded', async () => {
    const unpadded = await tokenWith({ alg: 'PS256', 'x5t#S256': sha256(key.certDer).toString('base64url') });
    expect(unpadded.status).toBe(200);
    const padded = paddedBase64url(sha256(key.certDer));
    expect(padded.endsWith('=')).toBe(true);
    expect((await tokenWith({ alg: 'PS256', 'x5t#S256': padded })).status).toBe(200);
  });

  // Azure: x5c (RFC 7515 §4.1.6, standard base64 DER, not base64url) may accompany the thumbprint (MSAL's sendX5C).
  it('accepts an x5c chain alongside x5t#S256', async () => {
    const res = await tokenWith({
      alg: 'PS256',
      'x5t#S256': sha256(key.certDer).toString('base64url'),
      x5c: [Buffer.from(key.certDer).toString('base64')],
    });
    expect(res.status).toBe(200);
  });

  // Azure: an assertion for a certificate the app does not hold is AADSTS700027 naming the thumbprint sent
  // (graph-entra.md §5.3), the same for padded and unpadded forms of it.
  it('refuses an unregistered certificate with AADSTS700027 naming its thumbprint, padded or not', async () => {
    const stranger = await certificateExpiringIn(sb.pool, sb.clock.now(), 'CN=stranger', 300, 730);
    for (const x5t of [sha1(stranger.certDer).toString('base64url'), paddedBase64url(sha1(stranger.certDer))]) {
      const res = await postTokenForm(
        sb,
        assertionForm(appId, clientAssertion(sb, appId, stranger, { alg: 'RS256', x5t }), scope),
      );
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_client', error_codes: [700027] });
      expect(res.body!.error_description).toContain(`Thumbprint of key used by client: '${stranger.thumbprint}'`);
    }
  });
});

describe('@azure/msal-node used directly', () => {
  // Azure: ConfidentialClientApplication with a certificate (SHA-256 thumbprint + PKCS#8 key) acquires an app-only
  // token by the client-credentials flow (msal-node docs, "certificate credentials"); knownAuthorities skips
  // instance discovery on a non-Microsoft host (graph-entra.md §6.2).
  it('acquires a token with clientCertificate, with and without x5c', async () => {
    trustSandboxCa(sb.caPem);
    const authority = `${sb.urls.entra}/${sb.tenantId}`;
    for (const x5c of [undefined, toPem('CERTIFICATE', key.certDer)]) {
      const cca = new ConfidentialClientApplication({
        auth: {
          clientId: appId,
          authority,
          knownAuthorities: [new URL(sb.urls.entra).host],
          clientCertificate: {
            thumbprintSha256: sha256(key.certDer).toString('hex'),
            privateKey: toPem('PRIVATE KEY', key.privateKeyPkcs8),
            ...(x5c ? { x5c } : {}),
          },
        },
      });
      const result = await cca.acquireTokenByClientCredential({ scopes: [scope] });
      expect(result?.accessToken).toBeTruthy();
      expect(jwtPayload(result!.accessToken)).toMatchObject({ appid: appId, tid: sb.tenantId });
    }
  });
});

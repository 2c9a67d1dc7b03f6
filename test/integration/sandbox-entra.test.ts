/**
 * Entra conformance: the real @azure/identity credentials (MSAL underneath) against the sandbox's token endpoint
 * over HTTPS, plus hand-built RS256 + x5t assertions, and the AADSTS errors rotation depends on.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { createSelfSignedCertificate, type CertificateMaterial } from '../../src/sandbox/pki.js';
import { certificateExpiringIn } from '../../src/sandbox/world.js';
import {
  certificateCredential,
  claimsOf,
  materialFromPem,
  postToken,
  rs256Assertion,
  secretCredential,
  trustSandboxCa,
} from './sandbox-support.js';

const PROPAGATION_S = 30;
let sb: Sandbox;
let contoso: { appId: string; pem: string; thumbprint: string };

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: PROPAGATION_S });
  trustSandboxCa(sb.caPem);
  const server = sb.servers.find((s) => s.name === 'contoso-api')!;
  contoso = { appId: server.appId, pem: server.current().pemBundle, thumbprint: server.current().thumbprint };
});
afterAll(() => sb?.stop());

async function newCertificate(daysLeft = 365): Promise<CertificateMaterial> {
  return certificateExpiringIn(sb.pool, sb.clock.now(), 'CN=test-new', daysLeft, 730);
}

function addKey(appId: string, material: CertificateMaterial, propagated = false) {
  const app = sb.directory.appByAppId(appId)!;
  const credential = sb.directory.keyCredentialFromCertificate(material.certDer, { propagated });
  sb.directory.setKeyCredentials(app, [...app.keyCredentials, credential]);
  return credential;
}

describe('OpenID metadata', () => {
  it('is tenant-scoped with the issuer and token endpoint on the authority host:port', async () => {
    const res = await fetch(`${sb.urls.entra}/${sb.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, string>;
    expect(new URL(doc.issuer!).host).toBe(new URL(sb.urls.entra).host);
    expect(doc.token_endpoint).toBe(`${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/token`);
    for (const field of ['authorization_endpoint', 'jwks_uri']) expect(doc[field]).toMatch(/^https:\/\/127\.0\.0\.1:/);
  });

  it('answers an unknown tenant with AADSTS90002 as JSON', async () => {
    const res = await fetch(`${sb.urls.entra}/${randomUUID()}/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_codes: number[] }).error_codes).toEqual([90002]);
  });

  it('serves instance discovery pointing back at itself', async () => {
    const res = await fetch(
      `${sb.urls.entra}/common/discovery/instance?api-version=1.1&authorization_endpoint=${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/authorize`,
    );
    const body = (await res.json()) as { tenant_discovery_endpoint: string; metadata: { aliases: string[] }[] };
    expect(body.tenant_discovery_endpoint).toContain(`${sb.urls.entra}/${sb.tenantId}/v2.0/.well-known`);
    expect(body.metadata[0]!.aliases).toContain(new URL(sb.urls.entra).host);
  });
});

describe('token endpoint', () => {
  it('issues a token to ClientCertificateCredential (PS256 + x5t#S256) and records it in history', async () => {
    const token = await certificateCredential(sb, contoso.appId, contoso.pem).getToken(
      'https://graph.microsoft.com/.default',
    );
    const claims = claimsOf(token.token);
    const app = sb.directory.appByAppId(contoso.appId)!;
    expect(claims).toMatchObject({
      aud: 'https://graph.microsoft.com',
      appid: contoso.appId,
      tid: sb.tenantId,
      oid: app.servicePrincipalId,
    });
    expect(claims.roles).toEqual([]);
    expect(
      sb.history
        .events()
        .filter((e) => e.kind === 'token')
        .at(-1),
    ).toMatchObject({
      kind: 'token',
      appId: contoso.appId,
      thumbprint: contoso.thumbprint,
      resource: 'https://graph.microsoft.com',
    });
  });

  it('accepts an RS256 + x5t assertion built by hand, and the same assertion again (reuse)', async () => {
    const server = sb.servers.find((s) => s.name === 'fabrikam-api')!;
    const material = materialOfServer('fabrikam-api');
    const assertion = await rs256Assertion(sb, server.appId, material);
    const form = {
      grant_type: 'client_credentials',
      client_id: server.appId,
      scope: 'https://vault.azure.net/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      'x-client-SKU': 'ignored',
    };
    const first = await postToken(sb, form);
    const second = await postToken(sb, form);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(claimsOf(first.body.access_token as string).aud).toBe('https://vault.azure.net');
  });

  it('refuses an assertion whose aud is not the token endpoint', async () => {
    const material = materialOfServer('fabrikam-api');
    const appId = sb.servers.find((s) => s.name === 'fabrikam-api')!.appId;
    const res = await postToken(sb, {
      grant_type: 'client_credentials',
      client_id: appId,
      scope: 'https://vault.azure.net/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await rs256Assertion(
        sb,
        appId,
        material,
        'https://login.microsoftonline.com/x/oauth2/v2.0/token',
      ),
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('issues the operator a Graph token with its app role through ClientSecretCredential', async () => {
    const token = await secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret).getToken(
      'https://graph.microsoft.com/.default',
    );
    expect(claimsOf(token.token).roles).toEqual(['Application.ReadWrite.OwnedBy']);
  });

  it('answers a wrong secret with AADSTS7000215 (401, no Retry-After)', async () => {
    const res = await postToken(sb, {
      grant_type: 'client_credentials',
      client_id: sb.operator.clientId,
      client_secret: 'wrong',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.body.error_codes).toEqual([7000215]);
    await expect(
      secretCredential(sb, sb.operator.clientId, 'wrong').getToken('https://graph.microsoft.com/.default'),
    ).rejects.toThrow(/AADSTS7000215/);
  });

  it('answers an unknown client with AADSTS700016 (400 unauthorized_client, no Retry-After)', async () => {
    const res = await postToken(sb, {
      grant_type: 'client_credentials',
      client_id: randomUUID(),
      client_secret: 'x',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.body).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });
    expect(res.body.error_description).toMatch(/^AADSTS700016: .*Trace ID: .*Correlation ID: .*Timestamp: /);
    expect(res.body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
  });

  it('requires client_assertion_type with an assertion, and answers unknown paths in AADSTS JSON', async () => {
    const material = materialOfServer('fabrikam-api');
    const appId = sb.servers.find((s) => s.name === 'fabrikam-api')!.appId;
    const res = await postToken(sb, {
      grant_type: 'client_credentials',
      client_id: appId,
      scope: 'https://vault.azure.net/.default',
      client_assertion: await rs256Assertion(sb, appId, material),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    const missing = await fetch(`${sb.urls.entra}/${sb.tenantId}/oauth2/v2.0/nothing-here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error_codes: number[] }).error_codes).toHaveLength(1);
  });

  it('refuses an unknown resource with AADSTS500011 and a scope without /.default with AADSTS1002012', async () => {
    const base = {
      grant_type: 'client_credentials',
      client_id: sb.operator.clientId,
      client_secret: sb.operator.clientSecret,
    };
    expect((await postToken(sb, { ...base, scope: 'https://unknown.example/.default' })).body.error_codes).toEqual([
      500011,
    ]);
    expect((await postToken(sb, { ...base, scope: 'https://graph.microsoft.com/User.Read' })).body.error_codes).toEqual(
      [1002012],
    );
  });

  it('says AADSTS700027 "key was not found" until the propagation delay has passed, then issues', async () => {
    const material = await newCertificate();
    addKey(contoso.appId, material);
    const scope = 'https://graph.microsoft.com/.default';
    const err = await certificateCredential(sb, contoso.appId, material.pemBundle)
      .getToken(scope)
      .catch((e: Error) => e);
    expect(String(err)).toMatch(/AADSTS700027: .*The key was not found\./);
    // MSAL sent x5t#S256, so Entra reports the SHA-256 thumbprint it could not find.
    const sha256 = createHash('sha256').update(material.certDer).digest('hex').toUpperCase();
    expect(String(err)).toContain(`Thumbprint of key used by client: '${sha256}'`);
    // The sandbox clock moves instead of the test sleeping; MSAL's assertion stays inside the accepted skew.
    sb.clock.advance((PROPAGATION_S + 1) * 1000);
    try {
      const token = await certificateCredential(sb, contoso.appId, material.pemBundle).getToken(scope);
      expect(claimsOf(token.token).appid).toBe(contoso.appId);
      expect(sb.history.events().at(-1)).toMatchObject({ kind: 'token', thumbprint: material.thumbprint });
    } finally {
      sb.clock.advance(-(PROPAGATION_S + 1) * 1000);
    }
  });

  it('says AADSTS700027 "key used is expired" for an expired certificate credential', async () => {
    const material = await newCertificate(-1);
    addKey(contoso.appId, material, true);
    const err = await certificateCredential(sb, contoso.appId, material.pemBundle)
      .getToken('https://graph.microsoft.com/.default')
      .catch((e: Error) => e);
    expect(String(err)).toMatch(/AADSTS700027: .*The key used is expired\./);
  });

  it('says AADSTS700027 for a certificate never registered on the app', async () => {
    const stranger = await createSelfSignedCertificate(await sb.pool.takeKeyPair(2048), {
      subject: 'CN=stranger',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
    });
    const res = await postToken(sb, {
      grant_type: 'client_credentials',
      client_id: contoso.appId,
      scope: 'https://graph.microsoft.com/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await rs256Assertion(sb, contoso.appId, stranger),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.body.error_description).toContain(`Thumbprint of key used by client: '${stranger.thumbprint}'`);
  });
});

/** The seeded material of a keyvault target, from the PEM its server holds. */
function materialOfServer(name: string): CertificateMaterial {
  return materialFromPem(sb.servers.find((s) => s.name === name)!.current().pemBundle);
}

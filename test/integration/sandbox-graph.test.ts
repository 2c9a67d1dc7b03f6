/**
 * Graph conformance: the real @microsoft/microsoft-graph-client (with an auth provider over @azure/identity)
 * against the sandbox's applications API — $select, PATCH vs addKey/removeKey proofs, permissions, errors,
 * throttling and the client's retry on 429.
 */
import { randomUUID } from 'node:crypto';
import type { Client, GraphError } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Application } from '../../src/sandbox/directory.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import type { CertificateMaterial } from '../../src/sandbox/pki.js';
import { certificateExpiringIn, registerCurrentKey } from '../../src/sandbox/world.js';
import { certificateCredential, graphClient, proofJwt, secretCredential, trustSandboxCa } from './sandbox-support.js';

interface KeyCredentialJson {
  keyId: string;
  key: string | null;
  customKeyIdentifier: string;
  startDateTime: string;
  endDateTime: string;
  type: string;
  usage: string;
  displayName: string;
}
interface AppJson {
  id?: string;
  appId?: string;
  keyCredentials: KeyCredentialJson[];
  '@odata.context': string;
}

let sb: Sandbox;
let operator: Client;
let operatorToken: string;

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0 });
  trustSandboxCa(sb.caPem);
  const credential = secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret);
  operator = graphClient(sb, credential);
  operatorToken = (await credential.getToken('https://graph.microsoft.com/.default')).token;
});
afterAll(() => sb?.stop());

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');

/** A fresh app with a current (propagated) key, owned by the operator unless told otherwise. */
async function testApp(
  opts: { owned?: boolean; roles?: string[] } = {},
): Promise<{ app: Application; key: CertificateMaterial }> {
  const app = sb.directory.createApp({ displayName: `test-${randomUUID().slice(0, 8)}`, graphRoles: opts.roles ?? [] });
  if (opts.owned ?? true) sb.directory.addOwner(app, sb.directory.appByAppId(sb.operator.clientId)!);
  const key = await certificateExpiringIn(sb.pool, sb.clock.now(), `CN=${app.displayName}`, 300, 730);
  registerCurrentKey(sb.directory, app, key);
  return { app, key };
}

async function newCert(daysLeft = 700): Promise<CertificateMaterial> {
  return certificateExpiringIn(sb.pool, sb.clock.now(), 'CN=next', daysLeft, 730);
}

/** The app's own Graph client: it signs in with its current certificate and has no directory role. */
function selfClient(app: Application, key: CertificateMaterial): Client {
  return graphClient(sb, certificateCredential(sb, app.appId, key.pemBundle));
}

async function graphFails(p: Promise<unknown>): Promise<GraphError> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as GraphError | undefined;
  if (!err) throw new Error('expected the Graph call to fail');
  return err;
}

async function raw(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${sb.urls.graph}${path}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

describe('reading applications', () => {
  it('returns key material only with $select', async () => {
    const { app, key } = await testApp();
    const plain = (await operator.api(`/applications/${app.id}`).get()) as AppJson;
    expect(plain.appId).toBe(app.appId);
    expect(plain.keyCredentials[0]).toMatchObject({
      key: null,
      type: 'AsymmetricX509Cert',
      usage: 'Verify',
      customKeyIdentifier: key.thumbprint,
    });
    const selected = (await operator.api(`/applications/${app.id}`).select('keyCredentials').get()) as AppJson;
    expect(selected.id).toBeUndefined();
    expect(selected.keyCredentials[0]!.key).toBe(b64(key.certDer));
    expect(selected['@odata.context']).toContain('$metadata#applications(keyCredentials)/$entity');
    expect(selected.keyCredentials[0]!.endDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it("reads by applications(appId='…') with raw quotes and with %27", async () => {
    const { app } = await testApp();
    const viaClient = (await operator.api(`/applications(appId='${app.appId}')`).get()) as AppJson;
    expect(viaClient.id).toBe(app.id);
    const encoded = await raw('GET', `/v1.0/applications(appId=%27${app.appId}%27)?$select=id,keyCredentials`, {
      token: operatorToken,
    });
    expect(encoded.status).toBe(200);
    expect(encoded.body!.id).toBe(app.id);
  });

  it('answers an unknown id with Request_ResourceNotFound, innerError with a zone-less date, echoing client-request-id', async () => {
    const crid = randomUUID();
    const res = await raw('GET', `/v1.0/applications/${randomUUID()}`, {
      token: operatorToken,
      headers: { 'client-request-id': crid },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('client-request-id')).toBe(crid);
    const error = (res.body as { error: { code: string; innerError: Record<string, string> } }).error;
    expect(error.code).toBe('Request_ResourceNotFound');
    expect(error.innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(error.innerError['client-request-id']).toBe(crid);
    const viaClient = await graphFails(operator.api(`/applications/${randomUUID()}`).get());
    expect(viaClient.statusCode).toBe(404);
    expect(viaClient.code).toBe('Request_ResourceNotFound');
  });

  it('lists owners and federated identity credentials (northwind is federated, no keys)', async () => {
    const northwind = sb.targets.find((t) => t.name === 'northwind-portal')!;
    const contoso = sb.targets.find((t) => t.name === 'contoso-api')!;
    const owners = (await operator.api(`/applications/${contoso.objectId}/owners`).get()) as {
      value: { id: string; appId: string }[];
    };
    expect(owners.value.map((o) => o.appId)).toContain(sb.operator.clientId);
    const fics = (await operator.api(`/applications/${northwind.objectId}/federatedIdentityCredentials`).get()) as {
      value: unknown[];
    };
    expect(fics.value).toHaveLength(1);
    const keys = (await operator
      .api(`/applications(appId='${northwind.appId}')`)
      .select('keyCredentials')
      .get()) as AppJson;
    expect(keys.keyCredentials).toEqual([]);
  });

  it('refuses a token minted for another audience', async () => {
    const vaultToken = (
      await secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret).getToken(
        'https://vault.azure.net/.default',
      )
    ).token;
    const res = await raw('GET', `/v1.0/applications/${sb.targets[0]!.objectId}`, { token: vaultToken });
    expect(res.status).toBe(401);
    expect((res.body as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
    expect((await raw('GET', `/v1.0/applications/${sb.targets[0]!.objectId}`)).status).toBe(401);
  });

  it('refuses reads to an app with no Graph role', async () => {
    const { app, key } = await testApp();
    const err = await graphFails(selfClient(app, key).api(`/applications/${app.id}`).get());
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('Authorization_RequestDenied');
  });
});

describe('PATCH keyCredentials', () => {
  it('merges when the existing entries are resent by keyId (no key material needed) and records the new set', async () => {
    const { app } = await testApp();
    const next = await newCert();
    const current = (await operator.api(`/applications/${app.id}`).get()) as AppJson;
    const result: unknown = await operator.api(`/applications/${app.id}`).patch({
      keyCredentials: [
        ...current.keyCredentials.map((k) => ({ keyId: k.keyId, type: k.type, usage: k.usage, key: null })),
        { type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer), displayName: 'CN=next' },
      ],
    });
    expect(result).toBeUndefined(); // 204 No Content
    const after = (await operator.api(`/applications/${app.id}`).select('keyCredentials').get()) as AppJson;
    expect(after.keyCredentials.map((k) => k.customKeyIdentifier)).toEqual([
      current.keyCredentials[0]!.customKeyIdentifier,
      next.thumbprint,
    ]);
    const last = sb.history
      .events()
      .filter((e) => e.kind === 'appKeys' && e.appId === app.appId)
      .at(-1);
    expect(last).toMatchObject({
      kind: 'appKeys',
      keys: [{ keyId: current.keyCredentials[0]!.keyId }, { thumbprint: next.thumbprint }],
    });
  });

  it('replaces the whole collection: entries not resent are dropped', async () => {
    const { app } = await testApp();
    const next = await newCert();
    await operator
      .api(`/applications/${app.id}`)
      .patch({ keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer) }] });
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([next.thumbprint]);
  });

  it('refuses an end date past the certificate with KeyCredentialsInvalidEndDate', async () => {
    const { app } = await testApp();
    const next = await newCert(100);
    const end = new Date(next.notAfter.getTime() + 86_400_000).toISOString();
    const err = await graphFails(
      operator.api(`/applications/${app.id}`).patch({
        keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer), endDateTime: end }],
      }),
    );
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('KeyCredentialsInvalidEndDate');
    expect(app.keyCredentials).toHaveLength(1);
  });

  it('refuses changing the key of an existing keyId, and garbage key material', async () => {
    const { app } = await testApp();
    const other = await newCert();
    const keyId = app.keyCredentials[0]!.keyId;
    const changed = await graphFails(
      operator
        .api(`/applications/${app.id}`)
        .patch({ keyCredentials: [{ keyId, type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(other.certDer) }] }),
    );
    expect(changed.statusCode).toBe(400);
    expect(changed.message).toContain(`Update to existing credential with KeyId '${keyId}' is not allowed.`);
    const garbage = await graphFails(
      operator
        .api(`/applications/${app.id}`)
        .patch({ keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: 'bm90IGEgY2VydA==' }] }),
    );
    expect(garbage.message).toBe('Invalid certificate: Key value is invalid certificate.');
  });

  it('needs Application.ReadWrite.OwnedBy as an owner, or Application.ReadWrite.All', async () => {
    const next = await newCert();
    const patch = { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer) }] };
    const notOwned = await testApp({ owned: false });
    expect((await graphFails(operator.api(`/applications/${notOwned.app.id}`).patch(patch))).statusCode).toBe(403);
    // The app itself has no directory role: it may not PATCH its own keys (it may addKey/removeKey).
    const own = await testApp();
    expect((await graphFails(selfClient(own.app, own.key).api(`/applications/${own.app.id}`).patch(patch))).code).toBe(
      'Authorization_RequestDenied',
    );
    const admin = await testApp({ roles: ['Application.ReadWrite.All'] });
    await selfClient(admin.app, admin.key).api(`/applications/${notOwned.app.id}`).patch(patch);
    expect(notOwned.app.keyCredentials.map((k) => k.thumbprint)).toEqual([next.thumbprint]);
  });
});

describe('addKey / removeKey with a proof of possession', () => {
  it('lets an app roll its own key: addKey signed by the current key, removeKey of the old one signed by the new', async () => {
    const { app, key } = await testApp();
    const self = selfClient(app, key);
    const next = await newCert();
    const added = (await self.api(`/applications/${app.id}/addKey`).post({
      keyCredential: { type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer) },
      passwordCredential: null,
      proof: await proofJwt(key, { iss: app.id }),
    })) as KeyCredentialJson & { '@odata.context': string };
    expect(added['@odata.context']).toContain('#microsoft.graph.keyCredential');
    expect(added.customKeyIdentifier).toBe(next.thumbprint);
    const oldKeyId = app.keyCredentials[0]!.keyId;
    const removed: unknown = await self.api(`/applications(appId='${app.appId}')/removeKey`).post({
      keyId: oldKeyId,
      proof: await proofJwt(next, { iss: app.id, aud: '00000003-0000-0000-c000-000000000000' }),
    });
    expect(removed).toBeUndefined(); // 204
    expect(app.keyCredentials.map((k) => k.keyId)).toEqual([added.keyId]);
  });

  it('refuses proofs signed by an expired key, with the wrong iss, outside the ten-minute window, or living longer', async () => {
    const { app, key } = await testApp();
    const expired = await certificateExpiringIn(sb.pool, sb.clock.now(), 'CN=old', -2, 730);
    registerCurrentKey(sb.directory, app, expired);
    const self = selfClient(app, key);
    const next = await newCert();
    const body = (proof: string) => ({
      keyCredential: { type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer) },
      passwordCredential: null,
      proof,
    });
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      await proofJwt(expired, { iss: app.id }),
      await proofJwt(key, { iss: app.appId }),
      await proofJwt(key, { iss: app.id, nbf: now - 20 * 60 }),
      await proofJwt(key, { iss: app.id, lifetimeSeconds: 3600 }),
      await proofJwt(key, { iss: app.id, aud: 'https://graph.microsoft.com' }),
      'not-a-jwt',
    ];
    for (const proof of bad) {
      const err = await graphFails(self.api(`/applications/${app.id}/addKey`).post(body(proof)));
      expect(err.statusCode).toBe(401);
      expect(err.code).toBe('Authentication_MissingOrMalformed');
      expect(err.message).toBe('Access Token missing or malformed.');
    }
    expect(app.keyCredentials).toHaveLength(2);
  });

  it('refuses a proof signed by another app’s key, and addKey by a caller with no rights on the app', async () => {
    const a = await testApp({ owned: false });
    const b = await testApp({ owned: false });
    const next = await newCert();
    const body = {
      keyCredential: { type: 'AsymmetricX509Cert', usage: 'Verify', key: b64(next.certDer) },
      passwordCredential: null,
    };
    const wrongSigner = await graphFails(
      selfClient(a.app, a.key)
        .api(`/applications/${a.app.id}/addKey`)
        .post({ ...body, proof: await proofJwt(b.key, { iss: a.app.id }) }),
    );
    expect(wrongSigner.statusCode).toBe(401);
    const stranger = await graphFails(
      selfClient(b.app, b.key)
        .api(`/applications/${a.app.id}/addKey`)
        .post({ ...body, proof: await proofJwt(a.key, { iss: a.app.id }) }),
    );
    expect(stranger.statusCode).toBe(403);
  });

  it('answers removeKey of an unknown keyId with "No credentials found to be removed"', async () => {
    const { app, key } = await testApp();
    const err = await graphFails(
      selfClient(app, key)
        .api(`/applications/${app.id}/removeKey`)
        .post({ keyId: randomUUID(), proof: await proofJwt(key, { iss: app.id }) }),
    );
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('No credentials found to be removed');
  });
});

describe('throttling and retries', () => {
  it('the Graph client retries a 429 with Retry-After and succeeds', async () => {
    const { app } = await testApp();
    const path = `/v1.0/applications/${app.id}`;
    sb.instrumentation.addFaults([{ service: 'graph', method: 'GET', path, status: 429, retryAfter: 0, count: 1 }]);
    const got = (await operator.api(`/applications/${app.id}`).get()) as AppJson;
    expect(got.id).toBe(app.id);
    const log = sb.instrumentation.requests().filter((r) => r.path === path);
    expect(log.map((r) => r.status)).toEqual([429, 200]);
  });
});

describe('write budget and lagging reads', () => {
  let lagged: Sandbox;
  beforeAll(async () => {
    lagged = await startSandbox({
      propagationDelaySeconds: 0,
      graphWriteBudget: { writes: 2, windowSeconds: 1 },
      graphReadLagSeconds: 30,
    });
    trustSandboxCa(lagged.caPem);
  });
  afterAll(() => lagged?.stop());

  it('answers writes past the budget with 429, Retry-After and the throttle headers; the client waits and succeeds', async () => {
    const target = lagged.targets.find((t) => t.name === 'fabrikam-api')!;
    const credential = secretCredential(lagged, lagged.operator.clientId, lagged.operator.clientSecret);
    const token = (await credential.getToken('https://graph.microsoft.com/.default')).token;
    const keyIds = lagged.directory.appById(target.objectId)!.keyCredentials.map((k) => ({ keyId: k.keyId }));
    const patch = () =>
      fetch(`${lagged.urls.graph}/v1.0/applications/${target.objectId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ keyCredentials: keyIds }),
      });
    expect((await patch()).status).toBe(204);
    expect((await patch()).status).toBe(204);
    const throttled = await patch();
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(throttled.headers.get('x-ms-throttle-information')).toBe('WriteLimitExceeded');
    expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe('Request_ThrottledTemporarily');
    const client = graphClient(lagged, credential);
    const result: unknown = await client.api(`/applications/${target.objectId}`).patch({ keyCredentials: keyIds });
    expect(result).toBeUndefined();
    const statuses = lagged.instrumentation
      .requests()
      .filter((r) => r.method === 'PATCH')
      .map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual([204, 204, 429]);
    expect(statuses.at(-1)).toBe(204);
  });

  it('serves reads that lag writes when asked to, so adapters must poll', async () => {
    const target = lagged.targets.find((t) => t.name === 'contoso-api')!;
    const app = lagged.directory.appById(target.objectId)!;
    const next = await certificateExpiringIn(lagged.pool, lagged.clock.now(), 'CN=lag', 300, 730);
    lagged.directory.setKeyCredentials(app, [
      ...app.keyCredentials,
      lagged.directory.keyCredentialFromCertificate(next.certDer),
    ]);
    const client = graphClient(
      lagged,
      secretCredential(lagged, lagged.operator.clientId, lagged.operator.clientSecret),
    );
    const before = (await client.api(`/applications/${app.id}`).get()) as AppJson;
    expect(before.keyCredentials).toHaveLength(1);
    lagged.clock.advance(31_000);
    const after = (await client.api(`/applications/${app.id}`).get()) as AppJson;
    expect(after.keyCredentials).toHaveLength(2);
  });
});

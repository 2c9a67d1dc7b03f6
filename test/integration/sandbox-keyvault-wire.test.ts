/**
 * The sandbox Key Vault on the wire: challenge auth, tokens and permissions, api-version handling, throttling, bad
 * requests, and every item of reference/keyvault.md §10 not already covered by the certificate and secret suites.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import forge from 'node-forge';
import { CertificateClient } from '@azure/keyvault-certificates';
import {
  AUTHORIZATION_URI,
  RESOURCE,
  StaticCredential,
  TENANT_ID,
  startKeyVaultHarness,
  type KeyVaultHarness,
  expectRestError,
} from './helpers/keyvault-harness.js';

const API = 'api-version=2025-07-01';
const createBody = JSON.stringify({
  policy: {
    key_props: {},
    secret_props: {},
    x509_props: { subject: 'CN=wire', sans: {} },
    issuer: { name: 'Self' },
    attributes: {},
  },
  attributes: {},
});

describe('sandbox Key Vault on the wire', () => {
  let h: KeyVaultHarness;
  beforeAll(async () => {
    h = await startKeyVaultHarness({ createDelaySeconds: 5 });
  });
  afterAll(async () => {
    await h.close();
  });

  describe('challenge authentication (§4, §10.3)', () => {
    it('answers an unauthenticated create with the 401 challenge before reading the body, and creates nothing', async () => {
      const res = await h.raw('POST', `/certificates/unauth-1/create?${API}`, { body: createBody });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer authorization="${AUTHORIZATION_URI}", resource="${RESOURCE}"`,
      );
      expect(res.body).toEqual({
        error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
      });
      const logged = h.requests.at(-1)!;
      expect(logged.url.startsWith('/certificates/unauth-1/create')).toBe(true);
      expect(logged.requestBody).toBeUndefined();
      expect(h.service.state().certificates.some((c) => c.name === 'unauth-1')).toBe(false);
      expect(h.keyRequests).toHaveLength(0);
    });

    it('challenges every path: reads, nextLinks, secrets, unknown paths, empty bodies with a JSON content type', async () => {
      for (const [method, path] of [
        ['GET', `/certificates?${API}&$skiptoken=MjU&maxresults=25`],
        ['GET', `/secrets/anything/?${API}`],
        ['GET', `/no/such/path?${API}`],
        ['DELETE', `/certificates/x?${API}`],
        ['PATCH', `/certificates/x/pending?${API}`],
      ] as const) {
        const res = await h.raw(method, path, { headers: { 'content-type': 'application/json' } });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers['www-authenticate']).toContain('authorization="');
      }
    });

    it('is what the SDK expects: one token request per client for the vault scope and the tenant from the challenge', async () => {
      const credential = new StaticCredential();
      const client = h.certificateClient({ credential });
      const p = await client.beginCreateCertificate(
        'challenge-1',
        { issuerName: 'Self', subject: 'CN=challenge-1' },
        { intervalInMs: 10 },
      );
      h.clock.advance(6_000);
      await p.pollUntilDone();
      await client.getCertificate('challenge-1');
      expect(credential.calls).toHaveLength(1);
      expect(credential.calls[0]).toEqual({ scopes: ['https://vault.azure.net/.default'], tenantId: TENANT_ID });
      const mine = h.requests.filter((r) => r.url.includes('challenge-1'));
      expect(mine[0]).toMatchObject({ method: 'POST', status: 401, authorized: false });
      expect(mine.slice(1).every((r) => r.authorized)).toBe(true);
      // The replayed create carried the body the challenge request did not.
      expect(mine[1]).toMatchObject({ method: 'POST', status: 202 });
      expect(mine[1]!.requestBody).toMatchObject({ policy: { x509_props: { subject: 'CN=challenge-1' } } });
    });

    it('rejects a token the verifier does not accept with 401 and the Key Vault error body', async () => {
      const e = await expectRestError(h.certificateClient({ token: 'token-forged' }).getCertificate('challenge-1'));
      expect(e.statusCode).toBe(401);
      expect(e.code).toBe('Unauthorized');
      const raw = await h.raw('GET', `/certificates/challenge-1/?${API}`, { token: 'token-forged' });
      expect(raw.status).toBe(401);
      expect(raw.headers['www-authenticate']).toBeDefined();
      const malformed = await h.raw('GET', `/certificates/challenge-1/?${API}`, {
        headers: { authorization: 'Basic abc' },
      });
      expect(malformed.status).toBe(401);
    });
  });

  describe('api-version (§1, §10.6)', () => {
    it('is sent percent-encoded by the pinned SDK and decoded here', () => {
      expect(h.requests.some((r) => r.url.includes('?api%2Dversion=2025-07-01'))).toBe(true);
    });

    it('accepts versions it does not know and older pinned ones, and refuses a missing one with 400', async () => {
      const newer = await h.raw('GET', `/certificates/challenge-1/?api-version=2099-01-01`, {
        token: 'token-operator',
      });
      expect(newer.status).toBe(200);
      const old = h.certificateClient({ serviceVersion: '7.4' });
      expect((await old.getCertificate('challenge-1')).name).toBe('challenge-1');
      expect(h.requests.at(-1)!.url).toContain('api%2Dversion=7.4');
      const missing = await h.raw('GET', `/certificates/challenge-1/`, { token: 'token-operator' });
      expect(missing.status).toBe(400);
      expect((missing.body as { error: { code: string } }).error.code).toBe('BadParameter');
    });
  });

  describe('bodies and encodings (§10.1, 2, 4, 5, 7, 8, 9, 15)', () => {
    let version: string;
    it('answers create with 202, an absolute pending id, status inProgress exactly, Location and Retry-After', async () => {
      const res = await h.raw('POST', `/certificates/wire-1/create?${API}`, {
        token: 'token-operator',
        body: createBody,
      });
      expect(res.status).toBe(202);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = res.body as Record<string, unknown>;
      expect(body.id).toBe(`${h.url}/certificates/wire-1/pending`);
      expect(body.status).toBe('inProgress');
      expect(body.cancellation_requested).toBe(false);
      expect(body.request_id).toMatch(/^[0-9a-f]{32}$/);
      expect(res.headers.location).toBe(
        `${h.url}/certificates/wire-1/pending?api-version=2025-07-01&request_id=${body.request_id}`,
      );
      expect(res.headers['retry-after']).toBe('10');
      // The CSR is standard base64 of a PKCS#10 request signed by the new key.
      const csr = forge.pki.certificationRequestFromAsn1(
        forge.asn1.fromDer(Buffer.from(body.csr as string, 'base64').toString('binary')),
      );
      expect(csr.verify()).toBe(true);
      expect(csr.subject.getField('CN').value).toBe('wire');
      // A request_id filter that does not match is a 404.
      const other = await h.raw('GET', `/certificates/wire-1/pending?${API}&request_id=${'0'.repeat(32)}`, {
        token: 'token-operator',
      });
      expect(other.status).toBe(404);
      h.clock.advance(6_000);
      const done = await h.raw('GET', `/certificates/wire-1/pending?${API}&request_id=${body.request_id}`, {
        token: 'token-operator',
      });
      expect(done.body).toMatchObject({ status: 'completed', target: `${h.url}/certificates/wire-1` });
    });

    it('serves the latest bundle with x5t base64url (no padding), cer base64 DER, integer epoch seconds, and the policy', async () => {
      const res = await h.raw('GET', `/certificates/wire-1/?${API}`, { token: 'token-operator' });
      const b = res.body as {
        id: string;
        kid: string;
        sid: string;
        x5t: string;
        cer: string;
        attributes: Record<string, unknown>;
        policy: { id: string; x509_props: { subject: string }; key_props: { key_size: number } };
      };
      version = b.id.split('/').at(-1)!;
      expect(b.id).toBe(`${h.url}/certificates/wire-1/${version}`);
      expect(version).toMatch(/^[0-9a-f]{32}$/);
      expect(b.kid).toBe(`${h.url}/keys/wire-1/${version}`);
      expect(b.sid).toBe(`${h.url}/secrets/wire-1/${version}`);
      const der = Buffer.from(b.cer, 'base64');
      expect(b.cer).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(b.x5t).toHaveLength(27);
      expect(b.x5t).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(b.x5t, 'base64url').equals(createHash('sha1').update(der).digest())).toBe(true);
      for (const k of ['nbf', 'exp', 'created', 'updated']) expect(Number.isInteger(b.attributes[k]), k).toBe(true);
      // Soft delete is on by default with Azure's 90-day retention (spec DeleteCertificate example).
      expect(b.attributes).toMatchObject({
        enabled: true,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      });
      expect(b.policy.id).toBe(`${h.url}/certificates/wire-1/policy`);
      expect(b.policy.x509_props.subject).toBe('CN=wire');
      expect(b.policy.key_props.key_size).toBe(2048);
      // The SDK parses these ids into the vault URL and name.
      const cert = await h.certificateClient().getCertificate('wire-1');
      expect(cert.properties.vaultUrl).toBe(h.url);
      expect(cert.properties.version).toBe(version);
      expect(cert.properties.x509ThumbprintString).toBe(createHash('sha1').update(der).digest('hex'));
      expect(Buffer.from(cert.cer!).equals(der)).toBe(true);
    });

    it('builds ids from the Host the client used: a localhost client gets localhost ids (§10.15)', async () => {
      const port = new URL(h.url).port;
      const client = new CertificateClient(`https://localhost:${port}`, new StaticCredential(), {
        tlsOptions: { ca: h.caPem },
        disableChallengeResourceVerification: true,
        serviceVersion: '2025-07-01',
      });
      const cert = await client.getCertificate('wire-1');
      expect(cert.properties.id).toBe(`https://localhost:${port}/certificates/wire-1/${version}`);
      expect(cert.properties.vaultUrl).toBe(`https://localhost:${port}`);
    });

    it('tags every response with x-ms-request-id and echoes the client request id', async () => {
      const res = await h.raw('GET', `/certificates/wire-1/?${API}`, {
        token: 'token-operator',
        headers: { 'x-ms-client-request-id': 'abc-123' },
      });
      expect(res.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers['x-ms-client-request-id']).toBe('abc-123');
    });
  });

  describe('bad requests get Key Vault error bodies, never a crash (§10.9)', () => {
    it.each([
      ['POST', '/certificates/wire-2/create', 400, 'BadParameter', '{not json'],
      [
        'POST',
        '/certificates/wire-2/create',
        400,
        'BadParameter',
        JSON.stringify({ policy: { x509_props: { subject: 'CN=x' } }, tags: { a: 1 } }),
      ],
      ['POST', '/certificates/bad_name/create', 400, 'BadParameter', createBody],
      ['POST', '/certificates/wire-2/create', 400, 'BadParameter', JSON.stringify({ policy: { x509_props: {} } })],
      [
        'POST',
        '/certificates/wire-2/create',
        400,
        'BadParameter',
        JSON.stringify({ policy: { key_props: { key_size: 'big' }, x509_props: { subject: 'CN=x' } } }),
      ],
      ['PATCH', '/certificates/wire-1/', 400, 'BadParameter', JSON.stringify({ attributes: { enabled: 'no' } })],
      ['PATCH', '/certificates/wire-1/pending', 400, 'BadParameter', JSON.stringify({ cancellation_requested: 'yes' })],
      ['POST', '/certificates/wire-2/import', 400, 'BadParameter', JSON.stringify({ value: 'bm90IGEgcGZ4' })],
      ['GET', '/certificates/wire-1/versions?maxresults=100', 400, 'BadParameter', undefined],
      ['GET', '/certificates/wire-1/versions?$skiptoken=%%%', 400, 'BadParameter', undefined],
      ['GET', '/keys/wire-1', 404, 'NotFound', undefined],
    ] as const)('%s %s → %i %s', async (method, path, status, code, body) => {
      const sep = path.includes('?') ? '&' : '?';
      const res = await h.raw(method, `${path}${sep}${API}`, {
        token: 'token-operator',
        ...(body !== undefined ? { body } : {}),
      });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect((res.body as { error: { code: string; message: string } }).error.code).toBe(code);
      expect((res.body as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
    });

    it('left the vault untouched', () => {
      expect(h.service.state().certificates.some((c) => c.name === 'wire-2' || c.name === 'bad_name')).toBe(false);
      expect(h.service.state().certificates.find((c) => c.name === 'wire-1')!.versions[0]!.enabled).toBe(true);
    });
  });
});

describe('sandbox Key Vault permissions and throttling', () => {
  let h: KeyVaultHarness;
  beforeAll(async () => {
    h = await startKeyVaultHarness({
      authorize: (caller, operation) => caller.appId === 'operator-app' || /\/(get|list)$/.test(operation),
      writeBudgetPer10s: 2,
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses an operation the caller may not perform with 403 Forbidden / AccessDenied, before any write', async () => {
    const reader = h.certificateClient({ token: 'token-reader' });
    const e = await expectRestError(
      reader.beginCreateCertificate('perm-1', { issuerName: 'Self', subject: 'CN=perm-1' }),
    );
    expect(e.statusCode).toBe(403);
    expect(e.code).toBe('Forbidden');
    expect(e.message).toContain("'appid=reader-app;oid=reader-oid'");
    expect(e.message).toContain('certificates create permission');
    expect((e.details as { error: { innerError: { code: string } } }).error.innerError.code).toBe('AccessDenied');
    expect(h.service.state().certificates).toEqual([]);
    expect(h.keyRequests).toHaveLength(0);
    // Reads are allowed to the reader: a 404, not a 403.
    expect((await expectRestError(reader.getCertificate('perm-1'))).statusCode).toBe(404);
  });

  it('throttles writes past the budget with 429 Throttled + Retry-After, and the SDK retries after it (§7, §10.10)', async () => {
    const noRetry = h.certificateClient({ retryOptions: { maxRetries: 0 } });
    for (const name of ['t-1', 't-2']) {
      await (await noRetry.beginCreateCertificate(name, { issuerName: 'Self', subject: `CN=${name}` })).pollUntilDone();
    }
    const e = await expectRestError(noRetry.updateCertificateProperties('t-1', '', { tags: { a: '1' } }));
    expect(e.statusCode).toBe(429);
    expect(e.code).toBe('Throttled');
    expect(e.message).toContain('VaultRequestTypeLimitReached');
    const raw = await h.raw('PATCH', `/certificates/t-1/?${API}`, {
      token: 'token-operator',
      body: '{"tags":{"a":"1"}}',
    });
    expect(raw.status).toBe(429);
    const retryAfter = Number(raw.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    // Reads are not writes: still served.
    expect((await noRetry.getCertificate('t-1')).name).toBe('t-1');

    // Move the sandbox clock to 1 s before the window frees: Retry-After says 1, the SDK waits it and succeeds.
    h.clock.advance(9_000);
    const client = h.certificateClient();
    const started = Date.now();
    const updated = await client.updateCertificateProperties('t-1', '', { tags: { a: '1' } });
    expect(updated.properties.tags).toEqual({ a: '1' });
    const attempts = h.requests.filter(
      (r) => r.method === 'PATCH' && r.url.startsWith('/certificates/t-1/') && r.authorized,
    );
    expect(attempts.at(-2)!.status).toBe(429);
    expect(attempts.at(-1)!.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});

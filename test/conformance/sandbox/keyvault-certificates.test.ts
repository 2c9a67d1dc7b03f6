/**
 * Conformance of the sandbox Key Vault's certificate and secret reads and updates, written from the Key Vault REST
 * reference (learn.microsoft.com/rest/api/keyvault, api-version 7.5, and its examples in Azure/azure-rest-api-specs
 * `specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.5`) with raw HTTPS and the challenge flow by hand —
 * no Azure SDK. The vault is the one `startSandbox` serves for the seeded keyvault target, signed in to through the
 * sandbox's Entra as the operator.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { VaultWire, clientSecretTokens, createBody } from './keyvault-client.js';

interface Attributes {
  enabled: boolean;
  nbf: number;
  exp: number;
  created: number;
  updated: number;
  recoveryLevel: string;
}
interface Bundle {
  id: string;
  kid: string;
  sid: string;
  x5t: string;
  cer: string;
  attributes: Attributes;
  tags?: Record<string, string>;
  policy: Record<string, unknown> & { id: string };
}
interface Item {
  id: string;
  x5t?: string;
  contentType?: string;
  managed?: boolean;
  attributes: Attributes;
  tags?: Record<string, string>;
}

let sb: Sandbox;
let kv: VaultWire;
let vaultUrl: string;

/** Creates a certificate version through the REST API and moves the sandbox clock past its issuance. */
async function createVersion(name: string, extra: Record<string, unknown> = {}): Promise<Bundle> {
  await kv.expect(202, 'POST', `/certificates/${name}/create`, createBody(`CN=${name}`, extra));
  sb.clock.advance(3_000);
  return kv.expect<Bundle>(200, 'GET', `/certificates/${name}/`);
}

const versionOf = (id: string) => id.split('/').at(-1)!;

beforeAll(async () => {
  sb = await startSandbox({ kvCreateDelaySeconds: 2, propagationDelaySeconds: 0 });
  vaultUrl = sb.targets.find((t) => t.kind === 'keyvault')!.vaultUrl!;
  kv = new VaultWire(vaultUrl, sb.caPem, clientSecretTokens(sb.operator.clientId, sb.operator.clientSecret, sb.caPem));
});
afterAll(() => sb?.stop());

describe('Key Vault challenge authentication, by hand', () => {
  it('answers a request without a token with 401 and a Bearer challenge naming the authority and the resource', async () => {
    // Azure: "Authentication, requests and responses" — an unauthenticated call gets 401 with
    // `WWW-Authenticate: Bearer authorization="{authority}/{tenant}", resource="https://vault.azure.net"`.
    await kv.expect(200, 'GET', '/certificates');
    expect(kv.challenge?.resource).toBe('https://vault.azure.net');
    expect(kv.challenge?.authorization).toBe(`${sb.urls.entra}/${sb.tenantId}`);
  });
});

describe('Get Certificate: the version segment is optional', () => {
  it('answers GET /certificates/{name} (no slash, no version) with the latest version, as /{name}/ and /{name}/{latest} do', async () => {
    // Azure: Get Certificate, `certificate-version` — "This URI fragment is optional. If not specified, the latest
    // version of the certificate is returned." (REST reference, GET {vaultBaseUrl}/certificates/{name}/{version}).
    const first = await createVersion('conf-latest');
    const second = await createVersion('conf-latest');
    expect(versionOf(second.id)).not.toBe(versionOf(first.id));
    const bare = await kv.expect<Bundle>(200, 'GET', '/certificates/conf-latest');
    const slash = await kv.expect<Bundle>(200, 'GET', '/certificates/conf-latest/');
    const pinned = await kv.expect<Bundle>(200, 'GET', `/certificates/conf-latest/${versionOf(second.id)}`);
    expect(bare.id).toBe(`${vaultUrl}/certificates/conf-latest/${versionOf(second.id)}`);
    expect(slash).toEqual(bare);
    expect(pinned.id).toBe(bare.id);
    // The bundle fields the REST reference lists: kid/sid share the version; x5t is base64url SHA-1 of `cer`.
    expect(bare.kid).toBe(`${vaultUrl}/keys/conf-latest/${versionOf(second.id)}`);
    expect(bare.sid).toBe(`${vaultUrl}/secrets/conf-latest/${versionOf(second.id)}`);
    const der = Buffer.from(bare.cer, 'base64');
    expect(bare.x5t).toBe(createHash('sha1').update(der).digest('base64url'));
    expect(new X509Certificate(der).subject).toBe('CN=conf-latest');
    expect(bare.policy.id).toBe(`${vaultUrl}/certificates/conf-latest/policy`);
  });

  it('answers GET /secrets/{name} (no slash, no version) with the latest version of the certificate secret', async () => {
    // Azure: Get Secret, `secret-version` — "This URI fragment is optional. If not specified, the latest version of
    // the secret is returned." A certificate's secret has the certificate's version and `managed: true`.
    const latest = await kv.expect<Bundle>(200, 'GET', '/certificates/conf-latest');
    const bare = await kv.expect<{ id: string; value: string; managed: boolean; kid: string }>(
      200,
      'GET',
      '/secrets/conf-latest',
    );
    const slash = await kv.expect<{ id: string; value: string }>(200, 'GET', '/secrets/conf-latest/');
    expect(bare.id).toBe(latest.sid);
    expect(bare.managed).toBe(true);
    expect(bare.kid).toBe(latest.kid);
    expect(slash.id).toBe(bare.id);
    expect(bare.value).toContain('-----BEGIN PRIVATE KEY-----');
  });

  it('answers an unknown certificate with 404 CertificateNotFound on every form of the path', async () => {
    // Azure: the recorded error body `{"error":{"code":"CertificateNotFound","message":"Certificate not found: {name}"}}`.
    for (const path of ['/certificates/conf-none', '/certificates/conf-none/']) {
      const res = await kv.send('GET', path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'CertificateNotFound', message: 'Certificate not found: conf-none' } });
    }
    expect((await kv.send('GET', '/secrets/conf-none')).status).toBe(404);
  });
});

describe('lists and paging', () => {
  it('pages Get Certificate Versions by maxresults through absolute nextLinks until nextLink is null', async () => {
    // Azure: Get Certificate Versions — `maxresults` "Maximum number of results to return in a page"; the response
    // carries `nextLink`, an absolute URL on the vault (example GetCertificateVersions-example.json).
    await createVersion('conf-latest');
    const pages = await kv.pages<Item>('/certificates/conf-latest/versions?maxresults=1');
    expect(pages).toHaveLength(3);
    for (const p of pages.slice(0, -1)) {
      expect(p.value).toHaveLength(1);
      expect(p.nextLink?.startsWith(`${vaultUrl}/certificates/conf-latest/versions?`)).toBe(true);
    }
    expect(pages.at(-1)!.nextLink ?? null).toBeNull();
    const ids = pages.flatMap((p) => p.value.map((i) => i.id));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(new RegExp(`^${vaultUrl}/certificates/conf-latest/[0-9a-f]{32}$`));
  });

  it('pages Get Certificates with maxresults; items are named without a version and carry x5t and attributes', async () => {
    // Azure: Get Certificates — `GET /certificates?maxresults=…`, items `{id: …/certificates/{name}, x5t, attributes}`
    // (example GetCertificates-example.json); "If not specified the service will return up to 25 results".
    for (const n of ['conf-list-a', 'conf-list-b', 'conf-list-c']) await createVersion(n);
    const pages = await kv.pages<Item>('/certificates?maxresults=2');
    expect(pages.length).toBeGreaterThanOrEqual(2);
    for (const p of pages) expect(p.value.length).toBeLessThanOrEqual(2);
    const items = pages.flatMap((p) => p.value);
    const names = items.map((i) => i.id.slice(`${vaultUrl}/certificates/`.length));
    expect(names).toEqual(expect.arrayContaining(['conf-list-a', 'conf-list-b', 'conf-list-c', 'conf-latest']));
    expect(new Set(names).size).toBe(names.length);
    for (const i of items) {
      expect(i.id).not.toMatch(/\/[0-9a-f]{32}$/);
      expect(i.x5t).toMatch(/^[A-Za-z0-9_-]{27}$/);
      expect(Number.isInteger(i.attributes.created)).toBe(true);
    }
    const all = await kv.expect<{ value: Item[] }>(200, 'GET', '/certificates');
    expect(all.value.length).toBe(items.length);
  });

  it('refuses maxresults outside 1..25 with 400', async () => {
    // Azure: the spec constrains `maxresults` to minimum 1, maximum 25 (certificates.json, GetCertificates).
    for (const bad of ['0', '26']) expect((await kv.send('GET', `/certificates?maxresults=${bad}`)).status).toBe(400);
  });

  it('lists certificate secrets in Get Secrets, without a version, managed, with their content type', async () => {
    // Azure: Get Secrets — `GET /secrets?maxresults=…`, items `{id: …/secrets/{name}, contentType, attributes}`
    // (example GetSecrets-example.json); a certificate's secret is `managed: true`.
    const pages = await kv.pages<Item>('/secrets?maxresults=2');
    const items = pages.flatMap((p) => p.value);
    const byName = new Map(items.map((i) => [i.id.slice(`${vaultUrl}/secrets/`.length), i]));
    for (const n of ['conf-latest', 'conf-list-a']) {
      expect(byName.get(n)).toMatchObject({ managed: true, contentType: 'application/x-pem-file' });
    }
    const versions = await kv.pages<Item>('/secrets/conf-latest/versions?maxresults=2');
    expect(versions.flatMap((p) => p.value)).toHaveLength(3);
  });
});

describe('policy, attributes and tags', () => {
  it('gets the policy and updates only the members a PATCH sets', async () => {
    // Azure: Get Certificate Policy / Update Certificate Policy — "Set specified members in the certificate policy.
    // Leave others as null." (PATCH /certificates/{name}/policy).
    const before = await kv.expect<{ id: string; x509_props: { subject: string; validity_months: number } }>(
      200,
      'GET',
      '/certificates/conf-list-a/policy',
    );
    expect(before.id).toBe(`${vaultUrl}/certificates/conf-list-a/policy`);
    expect(before.x509_props).toMatchObject({ subject: 'CN=conf-list-a', validity_months: 12 });
    const after = await kv.expect<{ x509_props: { subject: string; validity_months: number } }>(
      200,
      'PATCH',
      '/certificates/conf-list-a/policy',
      { x509_props: { validity_months: 24 } },
    );
    expect(after.x509_props).toMatchObject({ subject: 'CN=conf-list-a', validity_months: 24 });
    const reread = await kv.expect<typeof after>(200, 'GET', '/certificates/conf-list-a/policy');
    expect(reread.x509_props.validity_months).toBe(24);
  });

  it('updates a version’s enabled flag and tags; a disabled version’s secret is refused with 403', async () => {
    // Azure: Update Certificate — `PATCH /certificates/{name}/{version}` with `{attributes, tags}` "applies the
    // specified update on the given certificate"; reading a disabled secret gives the recorded 403
    // `{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`.
    const latest = await kv.expect<Bundle>(200, 'GET', '/certificates/conf-list-b');
    const v = versionOf(latest.id);
    const patched = await kv.expect<Bundle>(200, 'PATCH', `/certificates/conf-list-b/${v}`, {
      attributes: { enabled: false },
      tags: { owner: 'ops', ticket: 'CHG-1' },
    });
    expect(patched.attributes.enabled).toBe(false);
    expect(patched.tags).toEqual({ owner: 'ops', ticket: 'CHG-1' });
    const listed = (await kv.expect<{ value: Item[] }>(200, 'GET', '/certificates/conf-list-b/versions')).value;
    expect(listed[0]).toMatchObject({ tags: { owner: 'ops', ticket: 'CHG-1' }, attributes: { enabled: false } });
    const secret = await kv.send('GET', `/secrets/conf-list-b/${v}`);
    expect(secret.status).toBe(403);
    expect(secret.body).toEqual({
      error: {
        code: 'Forbidden',
        message: 'Operation get is not allowed on a disabled secret.',
        innererror: { code: 'SecretDisabled' },
      },
    });
    await kv.expect(200, 'PATCH', `/certificates/conf-list-b/${v}`, { attributes: { enabled: true } });
    expect((await kv.send('GET', `/secrets/conf-list-b/${v}`)).status).toBe(200);
  });
});

describe('the pending certificate operation', () => {
  it('answers create with 202 and the operation, gets it until completed, deletes it, then 404 PendingCertificateNotFound', async () => {
    // Azure: Create Certificate answers 202 with a CertificateOperation (`status: "inProgress"`, `csr`,
    // `request_id`); Get Certificate Operation reads it (`completed` with `target` once issued); Delete Certificate
    // Operation removes it and answers the operation; afterwards "PendingCertificateNotFound" (create-certificate
    // scenarios doc).
    const started = await kv.expect<{ id: string; status: string; csr: string; request_id: string }>(
      202,
      'POST',
      '/certificates/conf-pending/create',
      createBody('CN=conf-pending'),
    );
    expect(started).toMatchObject({ id: `${vaultUrl}/certificates/conf-pending/pending`, status: 'inProgress' });
    expect(started.request_id).toMatch(/^[0-9a-f]{32}$/);
    const pending = await kv.expect<{ status: string }>(200, 'GET', '/certificates/conf-pending/pending');
    expect(pending.status).toBe('inProgress');
    sb.clock.advance(3_000);
    const done = await kv.expect<{ status: string; target: string }>(200, 'GET', '/certificates/conf-pending/pending');
    expect(done).toMatchObject({ status: 'completed', target: `${vaultUrl}/certificates/conf-pending` });
    const removed = await kv.expect<{ status: string }>(200, 'DELETE', '/certificates/conf-pending/pending');
    expect(removed.status).toBe('completed');
    const gone = await kv.send('GET', '/certificates/conf-pending/pending');
    expect(gone.status).toBe(404);
    expect((gone.body as { error: { code: string } }).error.code).toBe('PendingCertificateNotFound');
    // The certificate itself stays.
    expect((await kv.send('GET', '/certificates/conf-pending')).status).toBe(200);
  });
});

describe('certificate contacts and issuers', () => {
  it('sets, gets and deletes the contacts; without contacts GET answers 404 ContactsNotFound', async () => {
    // Azure: Set/Get/Delete Certificate Contacts — PUT/GET/DELETE /certificates/contacts with
    // `{id: …/certificates/contacts, contacts: [{email, name, phone}]}` (spec examples); after a delete, GET fails
    // with code `ContactsNotFound` (the Azure SDKs' live tests assert that code).
    const none = await kv.send('GET', '/certificates/contacts');
    expect(none.status).toBe(404);
    expect((none.body as { error: { code: string } }).error.code).toBe('ContactsNotFound');
    const contacts = [
      { email: 'admin@contoso.com', name: 'John Doe', phone: '1111111111' },
      { email: 'pki@contoso.com' },
    ];
    const set = await kv.expect(200, 'PUT', '/certificates/contacts', { contacts });
    expect(set).toEqual({ id: `${vaultUrl}/certificates/contacts`, contacts });
    expect(await kv.expect(200, 'GET', '/certificates/contacts')).toEqual(set);
    expect(await kv.expect(200, 'DELETE', '/certificates/contacts')).toEqual(set);
    expect((await kv.send('GET', '/certificates/contacts')).status).toBe(404);
  });

  it('lists issuers as a page (none: Self and Unknown are reserved names, not issuer objects)', async () => {
    // Azure: Get Certificate Issuers — GET /certificates/issuers answers `{value: [{id, provider}], nextLink}`.
    expect(await kv.expect(200, 'GET', '/certificates/issuers')).toEqual({ value: [], nextLink: null });
  });
});

/**
 * Conformance of the sandbox Key Vault's certificate API, driven by the real `@azure/keyvault-certificates` client
 * over HTTPS (reference/keyvault.md §2, §3, §5, §6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { CertificatePolicy } from '@azure/keyvault-certificates';
import { startKeyVaultHarness, type KeyVaultHarness, expectRestError } from './helpers/keyvault-harness.js';

const policy = (subject: string, extra: Partial<CertificatePolicy> = {}): CertificatePolicy => ({
  issuerName: 'Self',
  subject,
  contentType: 'application/x-pem-file',
  validityInMonths: 24,
  keySize: 2048,
  ...extra,
});

describe('sandbox Key Vault certificates (real SDK over HTTPS)', () => {
  let h: KeyVaultHarness;
  beforeAll(async () => {
    h = await startKeyVaultHarness({ createDelaySeconds: 30 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('runs beginCreateCertificate: inProgress until createDelaySeconds pass on the sandbox clock, then a real certificate', async () => {
    const client = h.certificateClient();
    const poller = await client.beginCreateCertificate('create-1', policy('cn=create-1'), {
      intervalInMs: 20,
      tags: { owner: 'ops' },
    });
    const op = await client.getCertificateOperation('create-1', { intervalInMs: 20 });
    expect(op.getOperationState().certificateOperation?.status).toBe('inProgress');
    // Still in progress after several polls: completion follows the sandbox clock, not the number of requests.
    await poller.poll();
    await poller.poll();
    expect(poller.isDone()).toBe(false);
    h.clock.advance(31_000);
    const cert = await poller.pollUntilDone();

    const x509 = new X509Certificate(cert.cer!);
    expect(x509.subject).toBe('CN=create-1');
    expect(cert.properties.x509ThumbprintString).toBe(createHash('sha1').update(x509.raw).digest('hex'));
    expect(cert.policy?.subject).toBe('cn=create-1');
    expect(cert.policy?.contentType).toBe('application/x-pem-file');
    expect(cert.properties.tags).toEqual({ owner: 'ops' });
    expect(cert.properties.enabled).toBe(true);
    expect(cert.keyId).toBe(`${h.url}/keys/create-1/${cert.properties.version}`);
    expect(cert.secretId).toBe(`${h.url}/secrets/create-1/${cert.properties.version}`);
    // Validity per policy: created = completion time, nbf backdated 10 min, 24 months = 730 days.
    const created = cert.properties.createdOn!.getTime();
    expect(Math.abs(created - h.clock.now())).toBeLessThan(5_000);
    expect(cert.properties.notBefore!.getTime()).toBe(created - 600_000);
    expect(cert.properties.expiresOn!.getTime()).toBe(created + 730 * 86_400_000);
    expect(Date.parse(x509.validTo)).toBe(cert.properties.expiresOn!.getTime());
    expect(Date.parse(x509.validFrom)).toBe(cert.properties.notBefore!.getTime());
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(h.keyRequests).toContain(2048);
    // The pending operation now reports completed with a target.
    const done = await client.getCertificateOperation('create-1');
    expect(done.getOperationState().certificateOperation?.status).toBe('completed');
    expect(done.getOperationState().certificateOperation?.target).toBe(`${h.url}/certificates/create-1`);
  });

  it('resumes a serialised create poller in a new client without a second POST', async () => {
    const first = h.certificateClient();
    const poller = await first.beginCreateCertificate('resume-1', policy('CN=resume-1'), { intervalInMs: 20 });
    const serialised = poller.toString();
    expect(JSON.parse(serialised).state.isStarted).toBe(true);
    const postsBefore = h.requests.filter(
      (r) => r.method === 'POST' && r.url.startsWith('/certificates/resume-1/create'),
    ).length;

    h.clock.advance(31_000);
    const second = h.certificateClient();
    const resumed = await second.beginCreateCertificate('resume-1', policy('CN=resume-1'), {
      resumeFrom: serialised,
      intervalInMs: 20,
    });
    const cert = await resumed.pollUntilDone();
    expect(new X509Certificate(cert.cer!).subject).toBe('CN=resume-1');
    const postsAfter = h.requests.filter(
      (r) => r.method === 'POST' && r.url.startsWith('/certificates/resume-1/create'),
    ).length;
    expect(postsAfter).toBe(postsBefore);
    expect(h.service.state().certificates.find((c) => c.name === 'resume-1')?.versions).toHaveLength(1);
  });

  it('lists versions with paging, gets each by version, and latest is the newest', async () => {
    const client = h.certificateClient();
    const versions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await client.beginCreateCertificate('versions-1', policy('CN=versions-1'), { intervalInMs: 10 });
      h.clock.advance(31_000);
      versions.push((await p.pollUntilDone()).properties.version!);
    }
    const listed: string[] = [];
    for await (const p of client.listPropertiesOfCertificateVersions('versions-1')) {
      listed.push(p.version!);
      expect(p.x509ThumbprintString).toMatch(/^[0-9a-f]{40}$/);
      expect(p.name).toBe('versions-1');
    }
    expect(listed).toEqual(versions);
    for (const v of versions) {
      const byVersion = await client.getCertificateVersion('versions-1', v);
      expect(byVersion.properties.version).toBe(v);
    }
    const latest = await client.getCertificate('versions-1');
    expect(latest.properties.version).toBe(versions[2]);
    expect(new Set(versions).size).toBe(3);
  });

  it('pages past 25 items through an absolute nextLink the SDK follows (§10.14)', async () => {
    const secret = await h.secretClient().getSecret('versions-1');
    const certDer = new Uint8Array(new X509Certificate(secret.value!).raw);
    const privateKeyPkcs8 = new Uint8Array(createPrivateKey(secret.value!).export({ type: 'pkcs8', format: 'der' }));
    const seeded: string[] = [];
    for (let i = 0; i < 27; i++) {
      seeded.push((await h.service.importCertificate('many-versions', { certDer, privateKeyPkcs8 })).version);
      await h.service.importCertificate(`bulk-${String(i).padStart(2, '0')}`, { certDer, privateKeyPkcs8 });
    }
    const client = h.certificateClient();
    const listed: string[] = [];
    for await (const p of client.listPropertiesOfCertificateVersions('many-versions')) listed.push(p.version!);
    expect(listed).toEqual(seeded);
    const names: string[] = [];
    for await (const p of client.listPropertiesOfCertificates()) names.push(p.name!);
    expect(names.filter((n) => n.startsWith('bulk-'))).toHaveLength(27);

    const pages = h.requests.filter(
      (r) => r.status === 200 && r.url.startsWith('/certificates/many-versions/versions'),
    );
    expect(pages).toHaveLength(2);
    const first = JSON.parse(pages[0]!.responseText) as { value: unknown[]; nextLink: string };
    expect(first.value).toHaveLength(25);
    expect(first.nextLink.startsWith(`${h.url}/certificates/many-versions/versions?api-version=2025-07-01&`)).toBe(
      true,
    );
    const last = JSON.parse(pages[1]!.responseText) as { value: unknown[]; nextLink: string | null };
    expect(last.value).toHaveLength(2);
    expect(last.nextLink).toBeNull();
    // A page past the end is an empty array, not an error.
    const empty = await h.raw(
      'GET',
      '/certificates/many-versions/versions?api-version=2025-07-01&maxresults=5&$skiptoken=' +
        Buffer.from('100').toString('base64url'),
      { token: 'token-operator' },
    );
    expect(empty.body).toEqual({ value: [], nextLink: null });
  });

  it('disables and re-enables a version and round-trips tags through PATCH', async () => {
    const client = h.certificateClient();
    const p = await client.beginCreateCertificate('attrs-1', policy('CN=attrs-1'), {
      intervalInMs: 10,
      tags: { a: '1' },
    });
    h.clock.advance(31_000);
    const cert = await p.pollUntilDone();
    const version = cert.properties.version!;
    const disabled = await client.updateCertificateProperties('attrs-1', version, {
      enabled: false,
      tags: { stage: 'retired', b: '2' },
    });
    expect(disabled.properties.enabled).toBe(false);
    expect(disabled.properties.tags).toEqual({ stage: 'retired', b: '2' });
    const again = await client.getCertificateVersion('attrs-1', version);
    expect(again.properties.enabled).toBe(false);
    expect(again.properties.tags).toEqual({ stage: 'retired', b: '2' });
    const stateVersion = h.service.state().certificates.find((c) => c.name === 'attrs-1')!.versions[0]!;
    expect(stateVersion).toMatchObject({ version, enabled: false, tags: { stage: 'retired', b: '2' } });
    // Empty version = latest, sent as a trailing slash.
    const reenabled = await client.updateCertificateProperties('attrs-1', '', { enabled: true });
    expect(reenabled.properties.enabled).toBe(true);
    expect(h.requests.some((r) => r.method === 'PATCH' && r.url.startsWith('/certificates/attrs-1/?'))).toBe(true);
  });

  it('gets and updates the policy', async () => {
    const client = h.certificateClient();
    const before = await client.getCertificatePolicy('attrs-1');
    expect(before).toMatchObject({
      subject: 'CN=attrs-1',
      keyType: 'RSA',
      keySize: 2048,
      validityInMonths: 24,
      issuerName: 'Self',
    });
    expect(before.enhancedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    await client.updateCertificatePolicy('attrs-1', {
      ...before,
      validityInMonths: 12,
      contentType: 'application/x-pkcs12',
    });
    // SDK 4.10.3 resolves updateCertificatePolicy with an empty policy whatever the service answers (it never reads
    // the response body), so the wire answer and a fresh read are what show the update.
    const patch = h.requests
      .filter((r) => r.method === 'PATCH' && r.url.startsWith('/certificates/attrs-1/policy'))
      .at(-1)!;
    expect(JSON.parse(patch.responseText)).toMatchObject({
      id: `${h.url}/certificates/attrs-1/policy`,
      x509_props: { validity_months: 12 },
      secret_props: { contentType: 'application/x-pkcs12' },
    });
    const after = await client.getCertificatePolicy('attrs-1');
    expect(after.validityInMonths).toBe(12);
    expect(after.contentType).toBe('application/x-pkcs12');
    expect(after.subject).toBe('CN=attrs-1');
  });

  it('imports a PEM certificate with its key as a new version', async () => {
    const client = h.certificateClient();
    const secret = await h.secretClient().getSecret('create-1');
    const imported = await client.importCertificate('imported-1', Buffer.from(secret.value!), {
      policy: { contentType: 'application/x-pem-file', issuerName: 'Unknown', subject: 'CN=create-1' },
      tags: { source: 'import' },
    });
    const original = await client.getCertificate('create-1');
    expect(imported.properties.x509ThumbprintString).toBe(original.properties.x509ThumbprintString);
    expect(imported.properties.tags).toEqual({ source: 'import' });
    expect(imported.policy?.issuerName).toBe('Unknown');
  });

  it('answers 404 CertificateNotFound with the Key Vault error body for an unknown certificate or version', async () => {
    const client = h.certificateClient();
    const e1 = await expectRestError(client.getCertificate('no-such-cert'));
    expect(e1.statusCode).toBe(404);
    expect(e1.code).toBe('CertificateNotFound');
    expect(e1.message).toBe('Certificate not found: no-such-cert');
    const e2 = await expectRestError(client.getCertificateVersion('create-1', '0'.repeat(32)));
    expect(e2.statusCode).toBe(404);
    expect(e2.code).toBe('CertificateNotFound');
    const e3 = await expectRestError(client.getCertificateOperation('create-1-none'));
    expect(e3.statusCode).toBe(404);
    const raw = await h.raw('GET', '/certificates/no-such-cert/?api-version=2025-07-01', { token: 'token-operator' });
    expect(raw.status).toBe(404);
    expect(raw.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(raw.body).toEqual({
      error: { code: 'CertificateNotFound', message: 'Certificate not found: no-such-cert' },
    });
  });

  it('refuses a second create while one is in progress (409) and cancels a pending create', async () => {
    const client = h.certificateClient();
    const poller = await client.beginCreateCertificate('busy-1', policy('CN=busy-1'), { intervalInMs: 10 });
    const e = await expectRestError(client.beginCreateCertificate('busy-1', policy('CN=busy-1')));
    expect(e.statusCode).toBe(409);
    expect(e.code).toBe('Forbidden');
    await poller.cancelOperation();
    const op = await client.getCertificateOperation('busy-1');
    expect(op.getOperationState().certificateOperation).toMatchObject({
      status: 'cancelled',
      cancellationRequested: true,
    });
    h.clock.advance(31_000);
    // The cancelled create never publishes a version; the certificate has none.
    expect(h.service.state().certificates.find((c) => c.name === 'busy-1')?.versions).toEqual([]);
    const deleted = await client.deleteCertificateOperation('busy-1');
    expect(deleted.status).toBe('cancelled');
    // A certificate that never had a version is gone with its operation.
    expect((await expectRestError(client.getCertificateOperation('busy-1'))).code).toBe('CertificateNotFound');
    expect(h.service.state().certificates.some((c) => c.name === 'busy-1')).toBe(false);
    // One with versions keeps them; only the finished operation goes.
    expect((await client.deleteCertificateOperation('create-1')).status).toBe('completed');
    const gone = await h.raw('GET', '/certificates/create-1/pending?api-version=2025-07-01', {
      token: 'token-operator',
    });
    expect(gone.status).toBe(404);
    expect((gone.body as { error: { code: string } }).error.code).toBe('PendingCertificateNotFound');
    expect((await client.getCertificate('create-1')).properties.version).toBeDefined();
  });

  it('serves GET latest while the first version is pending, so getCertificateOperation pollers work (§10.11)', async () => {
    const client = h.certificateClient();
    await client.beginCreateCertificate('first-pending', policy('CN=first-pending'), { intervalInMs: 10 });
    const raw = await h.raw('GET', '/certificates/first-pending/?api-version=2025-07-01', { token: 'token-operator' });
    expect(raw.status).toBe(200);
    const body = raw.body as { id: string; attributes: { enabled: boolean }; x5t?: string; pending: { id: string } };
    expect(body.attributes.enabled).toBe(false);
    expect(body.x5t).toBeUndefined();
    expect(body.pending.id).toBe(`${h.url}/certificates/first-pending/pending`);
    const poller = await client.getCertificateOperation('first-pending', { intervalInMs: 10 });
    expect(poller.isDone()).toBe(false);
    h.clock.advance(31_000);
    const cert = await poller.pollUntilDone();
    expect(body.id).toBe(`${h.url}/certificates/first-pending/${cert.properties.version}`);
    expect(cert.cer?.length).toBeGreaterThan(0);
  });

  it('deletes a certificate at once in a vault without soft delete (no recoveryId) and then 404s (§10.12)', async () => {
    // Soft delete is on by default (as in Azure); a vault configured without it keeps the old, immediate delete.
    const plain = await startKeyVaultHarness({ softDelete: false });
    try {
      const client = plain.certificateClient();
      const secret = await h.secretClient().getSecret('create-1');
      await client.importCertificate('imported-1', Buffer.from(secret.value!), {
        policy: { contentType: 'application/x-pem-file', issuerName: 'Unknown', subject: 'CN=create-1' },
      });
      const poller = await client.beginDeleteCertificate('imported-1', { intervalInMs: 10 });
      const deleted = await poller.pollUntilDone();
      expect(deleted.name).toBe('imported-1');
      expect(deleted.recoveryId).toBeUndefined();
      expect((await expectRestError(client.getCertificate('imported-1'))).statusCode).toBe(404);
      expect(plain.service.state().certificates.some((c) => c.name === 'imported-1')).toBe(false);
      // Nothing was kept: the name is free again at once.
      await client.importCertificate('imported-1', Buffer.from(secret.value!), {
        policy: { contentType: 'application/x-pem-file', issuerName: 'Unknown', subject: 'CN=create-1' },
      });
    } finally {
      await plain.close();
    }
  });

  it('soft-deletes by default: the SDK deletes, lists, refuses the name (409), recovers, deletes again and purges', async () => {
    const client = h.certificateClient();
    const before = await client.getCertificate('imported-1');
    const deletePoller = await client.beginDeleteCertificate('imported-1', { intervalInMs: 10 });
    const deleted = await deletePoller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${h.url}/deletedcertificates/imported-1`);
    expect(deleted.properties.recoveryLevel).toBe('Recoverable+Purgeable');
    expect(deleted.properties.recoverableDays).toBe(90);
    expect(deleted.scheduledPurgeDate!.getTime() - deleted.deletedOn!.getTime()).toBe(90 * 86_400_000);
    expect((await expectRestError(client.getCertificate('imported-1'))).code).toBe('CertificateNotFound');
    expect((await client.getDeletedCertificate('imported-1')).properties.version).toBe(before.properties.version);
    const listed: string[] = [];
    for await (const d of client.listDeletedCertificates()) listed.push(d.name);
    expect(listed).toContain('imported-1');

    const conflict = await expectRestError(client.beginCreateCertificate('imported-1', policy('CN=imported-1')));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe('Conflict');
    expect((conflict.details as { error: { innerError: { code: string } } }).error.innerError.code).toBe(
      'ObjectIsDeletedButRecoverable',
    );

    const recovered = await (
      await client.beginRecoverDeletedCertificate('imported-1', { intervalInMs: 10 })
    ).pollUntilDone();
    expect(recovered.properties.version).toBe(before.properties.version);
    expect(recovered.properties.tags).toEqual({ source: 'import' });
    expect((await h.secretClient().getSecret('imported-1')).properties.version).toBe(before.properties.version);

    await (await client.beginDeleteCertificate('imported-1', { intervalInMs: 10 })).pollUntilDone();
    await client.purgeDeletedCertificate('imported-1');
    expect((await expectRestError(client.getDeletedCertificate('imported-1'))).statusCode).toBe(404);
    expect(h.service.state().certificates.some((c) => c.name === 'imported-1')).toBe(false);
  });

  it('sets, reads and deletes the certificate contacts, and lists no issuers, through the SDK', async () => {
    const client = h.certificateClient();
    expect((await expectRestError(client.getContacts())).code).toBe('ContactsNotFound');
    await client.setContacts([{ email: 'admin@contoso.com', name: 'Admin', phone: '555' }]);
    expect(await client.getContacts()).toEqual([{ email: 'admin@contoso.com', name: 'Admin', phone: '555' }]);
    // 4.10.3's deleteContacts resolves [] here although the DELETE answers the contacts (it returns what it finds in
    // `response.parsedBody`); the DELETE body itself is pinned by the raw conformance test.
    await client.deleteContacts();
    expect((await expectRestError(client.getContacts())).statusCode).toBe(404);
    const issuers: string[] = [];
    for await (const i of client.listPropertiesOfIssuers()) issuers.push(i.name ?? '');
    expect(issuers).toEqual([]);
  });

  it('issues RSA 3072 and reuses the key when the policy says reuse_key', async () => {
    const client = h.certificateClient();
    const p1 = await client.beginCreateCertificate('reuse-1', policy('CN=reuse-1', { keySize: 3072, reuseKey: true }), {
      intervalInMs: 10,
    });
    h.clock.advance(31_000);
    const c1 = await p1.pollUntilDone();
    const p2 = await client.beginCreateCertificate('reuse-1', policy('CN=reuse-1', { keySize: 3072, reuseKey: true }), {
      intervalInMs: 10,
    });
    h.clock.advance(31_000);
    const c2 = await p2.pollUntilDone();
    const k1 = new X509Certificate(c1.cer!).publicKey;
    const k2 = new X509Certificate(c2.cer!).publicKey;
    expect(k1.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(k1.equals(k2)).toBe(true);
    expect(c1.properties.version).not.toBe(c2.properties.version);
  });

  it('rejects policies it cannot honour with 400 BadParameter and creates nothing', async () => {
    const client = h.certificateClient();
    for (const bad of [
      policy('CN=bad', { keySize: 1024 }),
      policy('CN=bad', { keyType: 'EC', keyCurveName: 'P-256', keySize: undefined }),
      { issuerName: 'Self', subject: 'not a dn' } as CertificatePolicy,
    ]) {
      const e = await expectRestError(client.beginCreateCertificate('bad-policy', bad));
      expect(e.statusCode).toBe(400);
      expect(e.code).toBe('BadParameter');
    }
    expect(h.service.state().certificates.some((c) => c.name === 'bad-policy')).toBe(false);
  });
});

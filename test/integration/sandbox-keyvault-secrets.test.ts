/**
 * The certificate-backed secrets of the sandbox Key Vault through the real `@azure/keyvault-secrets` client: PEM and
 * PKCS#12 values whose key matches the certificate, `managed`, `kid`, disabled and unknown versions (reference §3.5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import tls from 'node:tls';
import forge from 'node-forge';
import type { KeyVaultCertificateWithPolicy } from '@azure/keyvault-certificates';
import { startKeyVaultHarness, type KeyVaultHarness, expectRestError } from './helpers/keyvault-harness.js';

describe('sandbox Key Vault secrets (real SDK over HTTPS)', () => {
  let h: KeyVaultHarness;
  let pemCert: KeyVaultCertificateWithPolicy;
  let pfxCert: KeyVaultCertificateWithPolicy;

  beforeAll(async () => {
    h = await startKeyVaultHarness();
    const client = h.certificateClient();
    const make = async (name: string, contentType: 'application/x-pem-file' | 'application/x-pkcs12') => {
      const p = await client.beginCreateCertificate(
        name,
        {
          issuerName: 'Self',
          subject: `CN=${name}`,
          contentType,
          subjectAlternativeNames: { dnsNames: [`${name}.example`] },
        },
        { intervalInMs: 10, tags: { app: name } },
      );
      return p.pollUntilDone();
    };
    pemCert = await make('pem-cert', 'application/x-pem-file');
    pfxCert = await make('pfx-cert', 'application/x-pkcs12');
  });
  afterAll(async () => {
    await h.close();
  });

  it('serves PEM: PKCS#8 private key first, then the certificate, and the key matches the certificate', async () => {
    const secret = await h.secretClient().getSecret('pem-cert');
    expect(secret.properties.contentType).toBe('application/x-pem-file');
    expect(secret.properties.managed).toBe(true);
    expect(secret.properties.version).toBe(pemCert.properties.version);
    expect(secret.properties.certificateKeyId).toBe(pemCert.keyId);
    expect(secret.properties.id).toBe(pemCert.secretId);
    expect(secret.properties.tags).toEqual({ app: 'pem-cert' });
    expect(secret.properties.expiresOn?.getTime()).toBe(pemCert.properties.expiresOn?.getTime());
    const value = secret.value!;
    expect(value.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(value.indexOf('-----BEGIN PRIVATE KEY-----')).toBeLessThan(value.indexOf('-----BEGIN CERTIFICATE-----'));
    expect(value.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    expect(value.includes('\r')).toBe(false);
    for (const line of value.split('\n').filter((l) => l && !l.startsWith('-----')))
      expect(line.length).toBeLessThanOrEqual(64);

    const cert = new X509Certificate(value);
    const key = createPrivateKey(value);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(Buffer.from(cert.raw).equals(Buffer.from(pemCert.cer!))).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:pem-cert.example');
    // A private key a TLS stack accepts together with the certificate.
    expect(() => tls.createSecureContext({ key: value, cert: value })).not.toThrow();
  });

  it('serves PKCS#12: base64 PFX with an empty password that node-forge and OpenSSL both open, key matching', async () => {
    const secret = await h.secretClient().getSecret('pfx-cert', { version: pfxCert.properties.version! });
    expect(secret.properties.contentType).toBe('application/x-pkcs12');
    expect(secret.properties.managed).toBe(true);
    const pfx = Buffer.from(secret.value!, 'base64');
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(pfx.toString('binary')), '');
    const certBag = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!]![0]!;
    const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[
      forge.pki.oids.pkcs8ShroudedKeyBag!
    ]![0]!;
    const certPem = forge.pki.certificateToPem(certBag.cert!);
    const keyPem = forge.pki.privateKeyToPem(keyBag.key!);
    const cert = new X509Certificate(certPem);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(Buffer.from(cert.raw).equals(Buffer.from(pfxCert.cer!))).toBe(true);
    expect(() => tls.createSecureContext({ pfx, passphrase: '' })).not.toThrow();
  });

  it('converts PKCS#12 to PEM on request (outContentType, which secrets 4.11 sends as a query parameter)', async () => {
    const secret = await h.secretClient().getSecret('pfx-cert', { outContentType: 'application/x-pem-file' });
    expect(secret.properties.contentType).toBe('application/x-pem-file');
    expect(new X509Certificate(secret.value!).checkPrivateKey(createPrivateKey(secret.value!))).toBe(true);
    const sent = h.requests.filter((r) => r.status === 200 && r.url.startsWith('/secrets/pfx-cert/')).at(-1)!;
    expect(sent.url).toContain('outContentType=application%2Fx-pem-file');
    const bad = await h.raw('GET', '/secrets/pfx-cert/?api-version=2025-07-01&outContentType=text%2Fplain', {
      token: 'token-operator',
    });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { code: string } }).error.code).toBe('BadParameter');
  });

  it('answers 403 SecretDisabled (exact recorded body) for a disabled version, and serves it again once enabled', async () => {
    const client = h.certificateClient();
    const version = pemCert.properties.version!;
    await client.updateCertificateProperties('pem-cert', version, { enabled: false });
    const e = await expectRestError(h.secretClient().getSecret('pem-cert', { version }));
    expect(e.statusCode).toBe(403);
    expect(e.code).toBe('Forbidden');
    expect(e.message).toBe('Operation get is not allowed on a disabled secret.');
    expect((e.details as { error: { innerError: { code: string } } }).error.innerError.code).toBe('SecretDisabled');
    const raw = await h.raw('GET', `/secrets/pem-cert/${version}?api-version=2025-07-01`, { token: 'token-operator' });
    expect(raw.body).toEqual({
      error: {
        code: 'Forbidden',
        message: 'Operation get is not allowed on a disabled secret.',
        innererror: { code: 'SecretDisabled' },
      },
    });
    await client.updateCertificateProperties('pem-cert', version, { enabled: true });
    expect((await h.secretClient().getSecret('pem-cert', { version })).value).toContain('PRIVATE KEY');
  });

  it('answers 404 SecretNotFound for an unknown secret or version', async () => {
    const e1 = await expectRestError(h.secretClient().getSecret('no-such-secret'));
    expect(e1.statusCode).toBe(404);
    expect(e1.code).toBe('SecretNotFound');
    const e2 = await expectRestError(h.secretClient().getSecret('pem-cert', { version: 'f'.repeat(32) }));
    expect(e2.statusCode).toBe(404);
    expect(e2.code).toBe('SecretNotFound');
  });

  it('keeps each version its own secret: a new version has a new key, the old secret still serves the old one', async () => {
    const client = h.certificateClient();
    const p = await client.beginCreateCertificate(
      'pem-cert',
      { issuerName: 'Self', subject: 'CN=pem-cert', contentType: 'application/x-pem-file' },
      { intervalInMs: 10 },
    );
    const next = await p.pollUntilDone();
    const oldSecret = await h.secretClient().getSecret('pem-cert', { version: pemCert.properties.version! });
    const latest = await h.secretClient().getSecret('pem-cert');
    expect(latest.properties.version).toBe(next.properties.version);
    const oldKey = createPublicKey(createPrivateKey(oldSecret.value!)).export({ format: 'jwk' });
    const newKey = createPublicKey(createPrivateKey(latest.value!)).export({ format: 'jwk' });
    expect(oldKey.n).not.toBe(newKey.n);
    const versions: string[] = [];
    for await (const s of h.secretClient().listPropertiesOfSecretVersions('pem-cert')) versions.push(s.version!);
    expect(versions).toEqual([pemCert.properties.version, next.properties.version]);
  });

  it('lists the certificate secrets with listPropertiesOfSecrets: managed, latest version, content type', async () => {
    const listed = new Map<string, { managed?: boolean; contentType?: string; version?: string }>();
    for await (const s of h.secretClient().listPropertiesOfSecrets()) listed.set(s.name, s);
    expect(listed.get('pfx-cert')).toMatchObject({ managed: true, contentType: 'application/x-pkcs12' });
    expect(listed.get('pem-cert')).toMatchObject({ managed: true, contentType: 'application/x-pem-file' });
  });

  it('deletes the secret with its certificate: getSecret 404s, getDeletedSecret and listDeletedSecrets show it', async () => {
    const certificates = h.certificateClient();
    await (await certificates.beginDeleteCertificate('pfx-cert', { intervalInMs: 10 })).pollUntilDone();
    const secrets = h.secretClient();
    expect((await expectRestError(secrets.getSecret('pfx-cert'))).code).toBe('SecretNotFound');
    const deleted = await secrets.getDeletedSecret('pfx-cert');
    expect(deleted.properties.recoveryId).toBe(`${h.url}/deletedsecrets/pfx-cert`);
    expect(deleted.properties.version).toBe(pfxCert.properties.version);
    expect(deleted.value).toBeUndefined();
    const names: string[] = [];
    for await (const d of secrets.listDeletedSecrets()) names.push(d.name);
    expect(names).toEqual(['pfx-cert']);
    // Recovering the certificate brings its secret back.
    await (await certificates.beginRecoverDeletedCertificate('pfx-cert', { intervalInMs: 10 })).pollUntilDone();
    expect((await secrets.getSecret('pfx-cert')).properties.version).toBe(pfxCert.properties.version);
    expect((await expectRestError(secrets.getDeletedSecret('pfx-cert'))).statusCode).toBe(404);
  });
});

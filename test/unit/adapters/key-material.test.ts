import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterError } from '../../../src/adapters/ports.js';
import { parseCertificateSecret, pemBundle, thumbprintOfPem } from '../../../src/adapters/azure/key-material.js';
import type { CertificateMaterial } from '../../../src/sandbox/pki.js';
import { makeCertificate, pemSecret, pkcs12Secret } from './support.js';

let leaf: CertificateMaterial;
let other: CertificateMaterial;

beforeAll(async () => {
  [leaf, other] = await Promise.all([makeCertificate('CN=leaf'), makeCertificate('CN=other')]);
});

function keyMatchesCert(privateKeyPem: string, certificatePem: string): boolean {
  const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' }).toString('hex');
  return spki(createPublicKey(createPrivateKey(privateKeyPem))) === spki(new X509Certificate(certificatePem).publicKey);
}

describe('parseCertificateSecret', () => {
  it('reads Key Vault PEM (key first, then certificate) and computes the uppercase SHA-1 thumbprint', () => {
    const m = parseCertificateSecret(pemSecret(leaf), 'application/x-pem-file');
    expect(m.thumbprint).toBe(leaf.thumbprint);
    expect(m.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(m.privateKeyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(keyMatchesCert(m.privateKeyPem, m.certificatePem)).toBe(true);
  });

  it('reads a PKCS#12 secret with an empty password and picks the certificate matching the key as leaf', () => {
    const m = parseCertificateSecret(pkcs12Secret(leaf, [other]), 'application/x-pkcs12');
    expect(m.thumbprint).toBe(leaf.thumbprint);
    expect(keyMatchesCert(m.privateKeyPem, m.certificatePem)).toBe(true);
  });

  it('sniffs the format when the content type is missing', () => {
    expect(parseCertificateSecret(pkcs12Secret(leaf)).thumbprint).toBe(leaf.thumbprint);
    expect(parseCertificateSecret(pemSecret(leaf)).thumbprint).toBe(leaf.thumbprint);
  });

  it('picks the leaf from a PEM chain whatever the order', () => {
    const chained = other.certPem + pemSecret(leaf);
    expect(parseCertificateSecret(chained, 'application/x-pem-file').thumbprint).toBe(leaf.thumbprint);
  });

  it('refuses a secret without a private key (non-exportable key) as invalidRequest', () => {
    const err = (() => {
      try {
        parseCertificateSecret(leaf.certPem, 'application/x-pem-file');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).detail).toMatchObject({ code: 'invalidRequest', retryable: false });
  });

  it('refuses a key with no matching certificate and garbage that is neither PEM nor PKCS#12', () => {
    const mismatched = pemSecret(leaf).replace(leaf.certPem, other.certPem);
    expect(() => parseCertificateSecret(mismatched, 'application/x-pem-file')).toThrow(/no certificate matching/);
    expect(() => parseCertificateSecret('bm90IGEgcGZ4', 'application/x-pkcs12')).toThrow(/neither PEM nor a PKCS#12/);
  });

  it('bundles certificate then key for ClientCertificateCredential', () => {
    const m = parseCertificateSecret(pemSecret(leaf));
    const bundle = pemBundle(m);
    expect(bundle.indexOf('BEGIN CERTIFICATE')).toBeLessThan(bundle.indexOf('BEGIN PRIVATE KEY'));
    expect(thumbprintOfPem(bundle)).toBe(leaf.thumbprint);
  });
});

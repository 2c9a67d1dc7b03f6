/**
 * Shared material for the adapter unit tests: real RSA certificates (the sandbox's PKI), their PEM and PKCS#12
 * encodings as Key Vault stores them, and an in-memory key loader holding real key material.
 */
import { webcrypto } from 'node:crypto';
import forge from 'node-forge';
import { AdapterError, type KeyRef } from '../../../src/adapters/ports.js';
import type { KeyMaterial, KeyMaterialLoader } from '../../../src/adapters/azure/key-material.js';
import { createSelfSignedCertificate, toPem, type CertificateMaterial } from '../../../src/sandbox/pki.js';

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) } as const;

/** A self-signed RSA-2048 certificate valid from `startDays` to `endDays` around now. */
export async function makeCertificate(
  subject = 'CN=unit',
  startDays = -1,
  endDays = 365,
): Promise<CertificateMaterial> {
  const keys = (await webcrypto.subtle.generateKey({ ...RSA, modulusLength: 2048 }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const now = Date.now();
  return createSelfSignedCertificate(keys, {
    subject,
    notBefore: new Date(now + startDays * 86_400_000),
    notAfter: new Date(now + endDays * 86_400_000),
  });
}

/** Key Vault's PEM secret value: PKCS#8 key first, then the certificate. */
export function pemSecret(m: CertificateMaterial): string {
  return toPem('PRIVATE KEY', m.privateKeyPkcs8) + m.certPem;
}

/** Key Vault's PKCS#12 secret value: standard base64 of a PFX with an empty password. */
export function pkcs12Secret(m: CertificateMaterial, extraCerts: CertificateMaterial[] = []): string {
  const key = forge.pki.privateKeyFromPem(toPem('PRIVATE KEY', m.privateKeyPkcs8));
  const certs = [...extraCerts, m].map((c) => forge.pki.certificateFromPem(c.certPem));
  const p12 = forge.pkcs12.toPkcs12Asn1(key, certs, '', { algorithm: '3des' });
  return forge.util.encode64(forge.asn1.toDer(p12).getBytes());
}

/** The material a loader returns for `m`. */
export function keyMaterialOf(m: CertificateMaterial): KeyMaterial {
  return {
    certificatePem: m.certPem,
    privateKeyPem: toPem('PRIVATE KEY', m.privateKeyPkcs8),
    thumbprint: m.thumbprint,
  };
}

/** A key loader over real material held in memory, by secret id; records what was loaded. */
export class MemoryKeyLoader implements KeyMaterialLoader {
  readonly loads: string[] = [];
  private readonly byId = new Map<string, CertificateMaterial>();

  add(secretId: string, m: CertificateMaterial): KeyRef {
    this.byId.set(secretId, m);
    return { secretId, thumbprint: m.thumbprint };
  }

  async load(ref: KeyRef): Promise<KeyMaterial> {
    this.loads.push(ref.secretId);
    const m = this.byId.get(ref.secretId);
    if (!m) throw new AdapterError({ code: 'notFound', message: `no secret ${ref.secretId}`, retryable: false });
    return keyMaterialOf(m);
  }
}

/**
 * The certificate's linked secret in its two formats, and the reverse for imports: PEM (PKCS#8 key first, then the
 * certificate, 64-character lines) and PKCS#12 (a PFX with an empty password, base64), per reference/keyvault.md §3.5.
 */
import forge from 'node-forge';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { badParameter } from './errors.js';
import type { SecretContentType } from './policy.js';

/** Certificate DER and, when the key is exportable, its PKCS#8 private key. */
export interface CertificateMaterial {
  certDer: Uint8Array;
  privateKeyPkcs8?: Uint8Array;
}

/** PEM block with 64-character lines and LF endings, as the service writes it. */
export function pemBlock(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The secret `value` for a version in the given content type. */
export function secretValue(material: CertificateMaterial, contentType: SecretContentType): string {
  if (contentType === 'application/x-pem-file') {
    const key = material.privateKeyPkcs8 ? pemBlock('PRIVATE KEY', material.privateKeyPkcs8) : '';
    return key + pemBlock('CERTIFICATE', material.certDer);
  }
  return toPkcs12Base64(material);
}

function toPkcs12Base64(material: CertificateMaterial): string {
  const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(binary(material.certDer)));
  const key = material.privateKeyPkcs8
    ? forge.pki.privateKeyFromAsn1(forge.asn1.fromDer(binary(material.privateKeyPkcs8)))
    : null;
  // 3DES keeps the PFX readable by older Windows and OpenSSL builds alike; the password is empty, as in Azure.
  const p12 = forge.pkcs12.toPkcs12Asn1(key, [cert], '', { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary').toString('base64');
}

/** Reads an import's `value`: PEM text, or base64 PKCS#12 opened with `password` (empty when absent). */
export function parseImportedMaterial(
  value: string,
  contentType: SecretContentType,
  password = '',
): Required<CertificateMaterial> {
  try {
    if (contentType === 'application/x-pem-file' || value.includes('-----BEGIN')) return fromPem(value);
    return fromPkcs12(Buffer.from(value, 'base64'), password);
  } catch (e) {
    if (e instanceof Error && e.name === 'KeyVaultError') throw e;
    throw badParameter('The specified certificate content could not be read as PEM or PKCS#12.');
  }
}

function fromPem(text: string): Required<CertificateMaterial> {
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  const keyPem = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(
    text,
  )?.[0];
  if (!certPem || !keyPem) throw badParameter('The PEM content must hold a private key and a certificate.');
  const certDer = new Uint8Array(new X509Certificate(certPem).raw);
  const privateKeyPkcs8 = new Uint8Array(createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' }));
  return { certDer, privateKeyPkcs8 };
}

function fromPkcs12(pfx: Buffer, password: string): Required<CertificateMaterial> {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(pfx.toString('binary')), password);
  const certBag = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!]?.[0];
  const keyBag =
    p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!]?.[0] ??
    p12.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!]?.[0];
  if (!certBag?.cert || !keyBag?.key)
    throw badParameter('The PKCS#12 content must hold a private key and a certificate.');
  const certDer = derOf(forge.pki.certificateToAsn1(certBag.cert));
  const privateKeyPkcs8 = derOf(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key)));
  return { certDer, privateKeyPkcs8 };
}

function binary(der: Uint8Array): forge.util.ByteStringBuffer {
  return forge.util.createBuffer(Buffer.from(der).toString('binary'));
}

function derOf(asn1: forge.asn1.Asn1): Uint8Array {
  return new Uint8Array(Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
}

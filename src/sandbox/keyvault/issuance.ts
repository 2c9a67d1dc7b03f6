/**
 * Turns a certificate policy and an RSA key pair into a real self-signed X.509 certificate and the PKCS#10 request a
 * pending operation shows as `csr`, with @peculiar/x509 over WebCrypto.
 */
import './reflect-metadata-shim.js';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { normaliseSubject, type CertificatePolicy, type KEY_USAGES } from './policy.js';
import { badParameter } from './errors.js';

/** Signature algorithm of every certificate this vault issues (and of the sandbox's key pool). */
const SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

/** Issued material of one certificate version. The private key leaves this module only as PKCS#8 DER. */
export interface IssuedCertificate {
  certDer: Uint8Array;
  csrDer: Uint8Array;
  privateKeyPkcs8: Uint8Array;
}

/**
 * Issues a self-signed certificate per `policy`, valid from `notBefore` to `notAfter` (epoch seconds).
 * Pure with respect to the vault: nothing is stored here, so a failed issuance leaves no trace.
 */
export async function issueSelfSigned(
  policy: CertificatePolicy,
  keys: CryptoKeyPair,
  notBefore: number,
  notAfter: number,
): Promise<IssuedCertificate> {
  const name = parseSubject(policy.x509_props.subject);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(policy.x509_props.basic_constraints.ca, undefined, true),
    new x509.KeyUsagesExtension(keyUsageFlags(policy.x509_props.key_usage), true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (policy.x509_props.ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(policy.x509_props.ekus));
  const sans = subjectAltNames(policy);
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));

  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // a positive INTEGER, as RFC 5280 requires
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name,
    notBefore: new Date(notBefore * 1000),
    notAfter: new Date(notAfter * 1000),
    signingAlgorithm: SIGNING,
    keys,
    extensions,
  });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: SIGNING,
    extensions: sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
  });
  const privateKeyPkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certDer: new Uint8Array(cert.rawData), csrDer: new Uint8Array(csr.rawData), privateKeyPkcs8 };
}

/** Rebuilds a signing key pair from a stored PKCS#8 key, for policies with `reuse_key: true`. */
export async function keyPairFromPkcs8(pkcs8: Uint8Array): Promise<CryptoKeyPair> {
  const jwk = createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })).export({
    format: 'jwk',
  });
  const alg = { name: SIGNING.name, hash: SIGNING.hash };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, alg, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('jwk', jwk as webcrypto.JsonWebKey, alg, true, ['verify']);
  return { privateKey, publicKey };
}

function parseSubject(subject: string): x509.Name {
  let name: x509.Name | undefined;
  try {
    name = new x509.Name(normaliseSubject(subject));
  } catch {
    name = undefined;
  }
  // The parser accepts text without any `type=value` pair as an empty name; the service would not issue that.
  if (!name || name.toJSON().length === 0 || !subject.includes('=')) {
    throw badParameter(`The subject '${subject}' is not a valid X.500 distinguished name.`);
  }
  return name;
}

function keyUsageFlags(usages: string[]): x509.KeyUsageFlags {
  const flags = x509.KeyUsageFlags as unknown as Record<(typeof KEY_USAGES)[number], number>;
  let bits = 0;
  for (const u of usages) bits |= flags[u as (typeof KEY_USAGES)[number]] ?? 0;
  return bits as x509.KeyUsageFlags;
}

function subjectAltNames(policy: CertificatePolicy): x509.JsonGeneralName[] {
  const sans = policy.x509_props.sans ?? {};
  return [
    ...(sans.dns_names ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(sans.emails ?? []).map((value) => ({ type: 'email' as const, value })),
    ...(sans.upns ?? []).map((value) => ({ type: 'upn' as const, value })),
    ...(sans.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(sans.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
}

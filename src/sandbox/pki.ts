/**
 * The sandbox's PKI: a CA generated at start, the HTTPS server certificate it signs (SAN IP:127.0.0.1 and
 * DNS:localhost), and the self-signed client certificates that app registrations carry as key credentials.
 */
import { createHash, webcrypto } from 'node:crypto';
// @peculiar/x509 needs Reflect metadata at load time; Engineer K's shim provides the part it uses.
import './keyvault/reflect-metadata-shim.js';
import * as x509 from '@peculiar/x509';
import type { KeyPool } from './key-pool.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

/** Uppercase hex SHA-1 of the certificate DER: the thumbprint as the Azure portal shows it. */
export function thumbprintOf(certDer: Uint8Array): string {
  return createHash('sha1').update(certDer).digest('hex').toUpperCase();
}

/** base64url SHA-1 of the DER (`x5t`). */
export function x5tOf(certDer: Uint8Array): string {
  return createHash('sha1').update(certDer).digest('base64url');
}

/** base64url SHA-256 of the DER (`x5t#S256`). */
export function x5tS256Of(certDer: Uint8Array): string {
  return createHash('sha256').update(certDer).digest('base64url');
}

/**
 * The bytes of a thumbprint header (`x5t`, `x5t#S256`): base64url as RFC 7515 writes it, but also with `=`
 * padding or in the standard alphabet, which other JOSE libraries send and Entra accepts. Undefined when the value
 * is not base64 at all.
 */
export function thumbprintHeaderBytes(value: string): Buffer | undefined {
  const url = value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(url) || url.length % 4 === 1) return undefined;
  return Buffer.from(url, 'base64url');
}

/** PEM armour for DER bytes. */
export function toPem(label: 'CERTIFICATE' | 'PRIVATE KEY', der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** A certificate with its private key, in the forms the sandbox hands to clients and to Key Vault. */
export interface CertificateMaterial {
  certDer: Uint8Array;
  certPem: string;
  /** PKCS#8 DER of the private key. Held in memory only (DESIGN I4). */
  privateKeyPkcs8: Uint8Array;
  /** Certificate PEM followed by the PKCS#8 private-key PEM: what `ClientCertificateCredential` reads. */
  pemBundle: string;
  thumbprint: string;
  notBefore: Date;
  notAfter: Date;
  keys: CryptoKeyPair;
}

async function materialOf(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<CertificateMaterial> {
  const certDer = new Uint8Array(cert.rawData);
  const privateKeyPkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const certPem = toPem('CERTIFICATE', certDer);
  return {
    certDer,
    certPem,
    privateKeyPkcs8,
    pemBundle: certPem + toPem('PRIVATE KEY', privateKeyPkcs8),
    thumbprint: thumbprintOf(certDer),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    keys,
  };
}

/** Issues a self-signed client certificate (what Key Vault or Power Pages would make for an app key). */
export async function createSelfSignedCertificate(
  keys: CryptoKeyPair,
  opts: { subject: string; notBefore: Date; notAfter: Date },
): Promise<CertificateMaterial> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: opts.subject,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    keys,
    signingAlgorithm,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  return materialOf(cert, keys);
}

/** The CA and the HTTPS server certificate every sandbox service presents. */
export interface SandboxTls {
  caPem: string;
  /** Server certificate PEM (leaf) for fastify's `https.cert`. */
  certPem: string;
  /** Server private key PEM for fastify's `https.key`. Never written to disk. */
  keyPem: string;
}

/** Generates a CA (valid 2 days back to 10 years ahead) and a server certificate it signs. */
export async function createSandboxTls(pool: KeyPool): Promise<SandboxTls> {
  const [caKeys, serverKeys] = await Promise.all([pool.takeKeyPair(2048), pool.takeKeyPair(2048)]);
  const notBefore = new Date(Date.now() - 2 * 86_400_000);
  const notAfter = new Date(Date.now() + 10 * 365 * 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=certrotate sandbox CA',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const server = await x509.X509CertificateGenerator.create({
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore,
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const serverKeyDer = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey));
  return {
    caPem: toPem('CERTIFICATE', new Uint8Array(ca.rawData)),
    certPem: toPem('CERTIFICATE', new Uint8Array(server.rawData)),
    keyPem: toPem('PRIVATE KEY', serverKeyDer),
  };
}

/** Parses a certificate (DER) into the facts a key credential needs; throws on anything that is not one. */
export function parseCertificate(der: Uint8Array): {
  thumbprint: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
  publicKey: x509.PublicKey;
} {
  const cert = new x509.X509Certificate(der);
  return {
    thumbprint: thumbprintOf(der),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    subject: cert.subject,
    publicKey: cert.publicKey,
  };
}

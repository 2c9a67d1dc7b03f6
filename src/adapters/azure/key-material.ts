/**
 * Key material: the private key and certificate behind a {@link KeyRef}, fetched from Key Vault by secret id with
 * certrotate's own credential, held in memory for one step and dropped (DESIGN I4). Never logged, never written.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createRequire } from 'node:module';
import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import type * as KeyVaultSecrets from '@azure/keyvault-secrets';
import type forge from 'node-forge';
import { AdapterError, type CallOptions, type KeyRef } from '../ports.js';
import { classified } from './errors.js';
import type { ServiceLimiter } from './limiter.js';
import { limiterClientOptions } from './limiter-policies.js';

/** A certificate and its private key, in memory only. */
export interface KeyMaterial {
  /** The leaf certificate, PEM. */
  certificatePem: string;
  /** The private key, PKCS#8 PEM. A secret: never log it, never persist it. */
  privateKeyPem: string;
  /** Uppercase hex SHA-1 of the certificate's DER. */
  thumbprint: string;
}

/** Fetches the key material a {@link KeyRef} points at. */
export interface KeyMaterialLoader {
  /**
   * Reads the Key Vault secret `ref.secretId` (PEM or PKCS#12) and checks that its certificate has `ref.thumbprint`.
   * Read-only. Throws `notFound`, `forbidden` (also for a disabled version), `invalidRequest` (wrong thumbprint, no
   * private key in the secret).
   */
  load(ref: KeyRef, options?: CallOptions): Promise<KeyMaterial>;
}

/** The certificate then the key, the one-PEM form `ClientCertificateCredential` and most servers read. */
export function pemBundle(material: KeyMaterial): string {
  return `${material.certificatePem.trim()}\n${material.privateKeyPem.trim()}\n`;
}

/** Uppercase hex SHA-1 of a certificate's DER, as the Azure portal shows it. */
export function thumbprintOfPem(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint.replace(/:/g, '').toUpperCase();
}

/**
 * The start of a certificate's validity as ISO-8601 UTC: the fencing token servers compare, so that they never move
 * to a key older than the one they hold.
 */
export function notBeforeOfPem(certificatePem: string): string {
  return new Date(new X509Certificate(certificatePem).validFrom).toISOString();
}

/** The certificate's DER as standard base64 (Graph's `keyCredential.key`). */
export function certificateDerBase64(certificatePem: string): string {
  return new X509Certificate(certificatePem).raw.toString('base64');
}

/**
 * node-forge, loaded when a PKCS#12 secret is first parsed (certrotate's own versions are PEM): it is large, and this
 * module is on every command's path to its first request.
 */
let forgeModule: typeof forge | undefined;
const loadForge = () => (forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof forge);

const invalid = (message: string) => new AdapterError({ code: 'invalidRequest', message, retryable: false });

/**
 * Parses a Key Vault certificate secret: `application/x-pem-file` (PKCS#8 key then certificate(s)) or
 * `application/x-pkcs12` (standard base64 of a PFX with an empty password). Without a content type the value is
 * sniffed. Of several certificates, the one matching the private key is the leaf. Throws `invalidRequest` when the
 * value holds no private key or no matching certificate (a non-exportable key, or a secret that is not a certificate).
 */
export function parseCertificateSecret(value: string, contentType?: string): KeyMaterial {
  const isPem =
    contentType === 'application/x-pem-file' ||
    (contentType !== 'application/x-pkcs12' && value.includes('-----BEGIN'));
  let keyPem: string | undefined;
  let certPems: string[];
  if (isPem) {
    keyPem =
      /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.exec(
        value,
      )?.[0];
    certPems = value.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  } else {
    const forge = loadForge();
    let p12: forge.pkcs12.Pkcs12Pfx;
    try {
      p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.decode64(value.trim())), '');
    } catch {
      throw invalid('the secret is neither PEM nor a PKCS#12 file with an empty password');
    }
    const bags = (type: string): forge.pkcs12.Bag[] => p12.getBags({ bagType: type })[type] ?? [];
    const keyBags = [...bags(forge.pki.oids.pkcs8ShroudedKeyBag!), ...bags(forge.pki.oids.keyBag!)];
    const key = keyBags.find((b) => b.key)?.key;
    if (key) {
      // forge only handles RSA keys, which is all Entra accepts for certificate credentials.
      keyPem = forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key)));
    }
    certPems = bags(forge.pki.oids.certBag!)
      .filter((b) => b.cert)
      .map((b) => forge.pki.certificateToPem(b.cert!));
  }
  if (!keyPem) throw invalid('the secret holds no private key (is the key exportable?)');
  let privateKey;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw invalid('the secret holds a private key that cannot be read (encrypted or malformed)');
  }
  const leaf = certPems.map((p) => new X509Certificate(p)).find((c) => c.checkPrivateKey(privateKey));
  if (!leaf) throw invalid('the secret holds no certificate matching its private key');
  return {
    certificatePem: leaf.toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprint: leaf.fingerprint.replace(/:/g, '').toUpperCase(),
  };
}

/** Options of {@link createKeyMaterialLoader}. */
export interface KeyMaterialLoaderOptions {
  credential: TokenCredential;
  /** Extra CA for the Key Vault TLS connection (the sandbox's). */
  caPem?: string;
  /** The shared limiter (the vault's budgets). */
  limiter?: ServiceLimiter;
}

/** Key Vault hosts whose challenge resource can be verified; any other host (127.0.0.1) cannot. */
export function isAzureVaultHost(vaultUrl: string): boolean {
  return /\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)$|\.managedhsm\.azure\.net$/i.test(
    new URL(vaultUrl).hostname,
  );
}

/** The Key Vault API version certrotate speaks; pinned so that behaviour does not change with an npm update. */
export const KEY_VAULT_SERVICE_VERSION = '2025-07-01' as const;

/**
 * A loader reading secrets with `credential`; one SecretClient per vault, made when first needed (the SDK is loaded
 * then too, off the path to a command's first request).
 */
export function createKeyMaterialLoader(opts: KeyMaterialLoaderOptions): KeyMaterialLoader {
  const clients = new Map<string, SecretClient>();
  const clientFor = (vaultUrl: string, { SecretClient }: typeof KeyVaultSecrets) => {
    let c = clients.get(vaultUrl);
    if (!c) {
      c = new SecretClient(vaultUrl, opts.credential, {
        serviceVersion: KEY_VAULT_SERVICE_VERSION,
        disableChallengeResourceVerification: !isAzureVaultHost(vaultUrl),
        ...(opts.caPem ? { tlsOptions: { ca: opts.caPem } } : {}),
        // The machine retries (with durable, deadline-based waits); see certificate-store.ts.
        retryOptions: { maxRetries: 0 },
        ...limiterClientOptions(opts.limiter),
      });
      clients.set(vaultUrl, c);
    }
    return c;
  };
  return {
    async load(ref, options) {
      return classified({ operation: `reading the key of ${ref.thumbprint} from Key Vault` }, async () => {
        const sdk = await import('@azure/keyvault-secrets');
        let id;
        try {
          id = sdk.parseKeyVaultSecretIdentifier(ref.secretId);
        } catch {
          throw invalid(`not a Key Vault secret id: ${ref.secretId}`);
        }
        if (!id.version) throw invalid(`the secret id names no version: ${ref.secretId}`);
        const secret = await clientFor(id.vaultUrl, sdk).getSecret(id.name, {
          version: id.version,
          ...(options?.signal ? { abortSignal: options.signal } : {}),
        });
        const material = parseCertificateSecret(secret.value ?? '', secret.properties.contentType);
        if (material.thumbprint !== ref.thumbprint.toUpperCase()) {
          throw invalid(`the secret ${ref.secretId} holds certificate ${material.thumbprint}, not ${ref.thumbprint}`);
        }
        return material;
      });
    },
  };
}

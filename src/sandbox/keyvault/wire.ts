/**
 * Records → Key Vault JSON bundles. Every object carries an absolute `id` on the host the client used, since the SDK
 * parses each id into `/{collection}/{name}[/{version}]` and derives the vault URL from it (reference §10.1–2).
 */
import type { CertificatePolicy } from './policy.js';
import type { CertificateRecord, CertificateVersionRecord, PendingOperation } from './store.js';

/** Soft delete is not modelled (DELETE answers without `recoveryId`), so versions are plainly purgeable. */
export const RECOVERY_LEVEL = 'Purgeable';

/** base64url without padding, the `x5t` encoding. */
export function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** SHA-1 thumbprint (uppercase hex) → `x5t`. */
export function x5tOf(thumbprintHex: string): string {
  return base64Url(Buffer.from(thumbprintHex, 'hex'));
}

function attributes(v: CertificateVersionRecord) {
  return {
    enabled: v.enabled,
    nbf: v.nbf,
    exp: v.exp,
    created: v.created,
    updated: v.updated,
    recoveryLevel: RECOVERY_LEVEL,
  };
}

/** The policy as GET `/policy` and the latest bundle show it. */
export function policyBody(base: string, name: string, policy: CertificatePolicy) {
  return { id: `${base}/certificates/${name}/policy`, ...policy };
}

/** CertificateBundle of a published version. */
export function certificateBundle(base: string, record: CertificateRecord, v: CertificateVersionRecord) {
  return {
    id: `${base}/certificates/${record.name}/${v.version}`,
    kid: `${base}/keys/${record.name}/${v.version}`,
    sid: `${base}/secrets/${record.name}/${v.version}`,
    x5t: x5tOf(v.thumbprint),
    cer: Buffer.from(v.certDer).toString('base64'),
    attributes: attributes(v),
    tags: { ...v.tags },
    policy: policyBody(base, record.name, record.policy),
    pending: { id: `${base}/certificates/${record.name}/pending` },
  };
}

/**
 * The bundle a first create shows while it is still in progress: the new version id, disabled, no certificate yet.
 * Real Key Vault answers GET latest this way, which `getCertificateOperation` pollers rely on (reference §10.11).
 */
export function pendingBundle(base: string, record: CertificateRecord, op: PendingOperation, createdSeconds: number) {
  return {
    id: `${base}/certificates/${record.name}/${op.version}`,
    kid: `${base}/keys/${record.name}/${op.version}`,
    sid: `${base}/secrets/${record.name}/${op.version}`,
    attributes: {
      enabled: false,
      created: createdSeconds,
      updated: createdSeconds,
      recoveryLevel: RECOVERY_LEVEL,
    },
    tags: {},
    policy: policyBody(base, record.name, record.policy),
    pending: { id: `${base}/certificates/${record.name}/pending` },
  };
}

/** CertificateItem, as list and versions pages carry it. */
export function certificateItem(base: string, name: string, v: CertificateVersionRecord, withVersion: boolean) {
  return {
    id: withVersion ? `${base}/certificates/${name}/${v.version}` : `${base}/certificates/${name}`,
    x5t: x5tOf(v.thumbprint),
    attributes: attributes(v),
    tags: { ...v.tags },
  };
}

/** CertificateOperation for create's 202 and the `/pending` endpoints. */
export function operationBody(base: string, record: CertificateRecord, op: PendingOperation) {
  return {
    id: `${base}/certificates/${record.name}/pending`,
    issuer: { name: record.policy.issuer.name },
    csr: Buffer.from(op.csrDer).toString('base64'),
    cancellation_requested: op.cancellationRequested,
    status: op.status,
    ...(op.status === 'inProgress'
      ? {
          status_details:
            'Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.',
        }
      : {}),
    ...(op.error ? { error: op.error } : {}),
    ...(op.status === 'completed' ? { target: `${base}/certificates/${record.name}` } : {}),
    request_id: op.requestId,
  };
}

/** SecretBundle of a certificate-backed (managed) secret version. */
export function secretBundle(
  base: string,
  name: string,
  v: CertificateVersionRecord,
  value: string,
  contentType: string,
) {
  return {
    value,
    contentType,
    id: `${base}/secrets/${name}/${v.version}`,
    managed: true,
    kid: `${base}/keys/${name}/${v.version}`,
    attributes: attributes(v),
    tags: { ...v.tags },
  };
}

/** SecretItem, for secret version listings. */
export function secretItem(base: string, name: string, v: CertificateVersionRecord) {
  return {
    id: `${base}/secrets/${name}/${v.version}`,
    contentType: v.contentType,
    managed: true,
    attributes: attributes(v),
    tags: { ...v.tags },
  };
}

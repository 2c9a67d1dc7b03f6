/**
 * Records → Key Vault JSON bundles. Every object carries an absolute `id` on the host the client used, since the SDK
 * parses each id into `/{collection}/{name}[/{version}]` and derives the vault URL from it (reference §10.1–2).
 */
import type { WireBase } from './context.js';
import type { CertificatePolicy } from './policy.js';
import type { RecoveryAttributes } from './soft-delete.js';
import type {
  CertificateRecord,
  CertificateVersionRecord,
  DeletedCertificateRecord,
  PendingOperation,
} from './store.js';

/** base64url without padding, the `x5t` encoding. */
export function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** SHA-1 thumbprint (uppercase hex) → `x5t`. */
export function x5tOf(thumbprintHex: string): string {
  return base64Url(Buffer.from(thumbprintHex, 'hex'));
}

function attributes(v: CertificateVersionRecord, recovery: RecoveryAttributes) {
  return {
    enabled: v.enabled,
    nbf: v.nbf,
    exp: v.exp,
    created: v.created,
    updated: v.updated,
    ...recovery,
  };
}

/** The policy as GET `/policy` and the latest bundle show it. */
export function policyBody(base: string, name: string, policy: CertificatePolicy) {
  return { id: `${base}/certificates/${name}/policy`, ...policy };
}

/** CertificateBundle of a published version. */
export function certificateBundle(
  { base, recovery }: WireBase,
  record: CertificateRecord,
  v: CertificateVersionRecord,
) {
  return {
    id: `${base}/certificates/${record.name}/${v.version}`,
    kid: `${base}/keys/${record.name}/${v.version}`,
    sid: `${base}/secrets/${record.name}/${v.version}`,
    x5t: x5tOf(v.thumbprint),
    cer: Buffer.from(v.certDer).toString('base64'),
    attributes: attributes(v, recovery),
    tags: { ...v.tags },
    policy: policyBody(base, record.name, record.policy),
    pending: { id: `${base}/certificates/${record.name}/pending` },
  };
}

/**
 * The bundle a first create shows while it is still in progress: the new version id, disabled, no certificate yet.
 * Real Key Vault answers GET latest this way, which `getCertificateOperation` pollers rely on (reference §10.11).
 */
export function pendingBundle(
  { base, recovery }: WireBase,
  record: CertificateRecord,
  op: PendingOperation,
  createdSeconds: number,
) {
  return {
    id: `${base}/certificates/${record.name}/${op.version}`,
    kid: `${base}/keys/${record.name}/${op.version}`,
    sid: `${base}/secrets/${record.name}/${op.version}`,
    attributes: {
      enabled: false,
      created: createdSeconds,
      updated: createdSeconds,
      ...recovery,
    },
    tags: {},
    policy: policyBody(base, record.name, record.policy),
    pending: { id: `${base}/certificates/${record.name}/pending` },
  };
}

/** CertificateItem, as list and versions pages carry it. */
export function certificateItem(
  { base, recovery }: WireBase,
  name: string,
  v: CertificateVersionRecord,
  withVersion: boolean,
) {
  return {
    id: withVersion ? `${base}/certificates/${name}/${v.version}` : `${base}/certificates/${name}`,
    x5t: x5tOf(v.thumbprint),
    attributes: attributes(v, recovery),
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
  { base, recovery }: WireBase,
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
    attributes: attributes(v, recovery),
    tags: { ...v.tags },
  };
}

/** SecretItem, for secret listings: with the version in version listings, without it in the collection. */
export function secretItem(
  { base, recovery }: WireBase,
  name: string,
  v: CertificateVersionRecord,
  withVersion = true,
) {
  return {
    id: withVersion ? `${base}/secrets/${name}/${v.version}` : `${base}/secrets/${name}`,
    contentType: v.contentType,
    managed: true,
    attributes: attributes(v, recovery),
    tags: { ...v.tags },
  };
}

function deletion(base: string, collection: 'deletedcertificates' | 'deletedsecrets', d: DeletedCertificateRecord) {
  return {
    recoveryId: `${base}/${collection}/${d.record.name}`,
    deletedDate: d.deletedDate,
    scheduledPurgeDate: d.scheduledPurgeDate,
  };
}

function latestOf(d: DeletedCertificateRecord): CertificateVersionRecord {
  // A certificate is soft-deleted only once it has a version (VaultStore.softDelete).
  return d.record.versions.at(-1)!;
}

/** DeletedCertificateBundle: DELETE's answer and GET `/deletedcertificates/{name}` (spec DeleteCertificate example). */
export function deletedCertificateBundle(w: WireBase, d: DeletedCertificateRecord) {
  return { ...deletion(w.base, 'deletedcertificates', d), ...certificateBundle(w, d.record, latestOf(d)) };
}

/** DeletedCertificateItem, as GET `/deletedcertificates` pages carry it: the id has no version. */
export function deletedCertificateItem(w: WireBase, d: DeletedCertificateRecord) {
  return { ...deletion(w.base, 'deletedcertificates', d), ...certificateItem(w, d.record.name, latestOf(d), false) };
}

/**
 * DeletedSecretBundle of a certificate's secret (deleted with it). No `value`: the spec's GetDeletedSecret example
 * has none, and a deleted object's key material is not served.
 */
export function deletedSecretBundle(w: WireBase, d: DeletedCertificateRecord) {
  const v = latestOf(d);
  return {
    ...deletion(w.base, 'deletedsecrets', d),
    id: `${w.base}/secrets/${d.record.name}/${v.version}`,
    contentType: v.contentType,
    managed: true,
    kid: `${w.base}/keys/${d.record.name}/${v.version}`,
    attributes: attributes(v, w.recovery),
    tags: { ...v.tags },
  };
}

/** DeletedSecretItem, as GET `/deletedsecrets` pages carry it. */
export function deletedSecretItem(w: WireBase, d: DeletedCertificateRecord) {
  return { ...deletion(w.base, 'deletedsecrets', d), ...secretItem(w, d.record.name, latestOf(d), false) };
}

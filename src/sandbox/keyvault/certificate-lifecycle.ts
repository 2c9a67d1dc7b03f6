/**
 * The two ways a certificate version comes to exist: a create (policy → pending operation → self-signed version on
 * the sandbox clock) and an import (existing certificate and key). Both check everything before touching the store,
 * so a rejected request leaves the vault exactly as it was.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { badParameter, deletedButRecoverable, pendingInProgress } from './errors.js';
import { issueSelfSigned, keyPairFromPkcs8 } from './issuance.js';
import { completePolicy, validityEnd, type CertificatePolicyInput, type SecretContentType } from './policy.js';
import { nowSeconds, type VaultContext } from './context.js';
import { newId, thumbprintOf, type CertificateRecord, type PendingOperation } from './store.js';

/** Real Key Vault backdates a self-signed certificate's notBefore by ten minutes (recordings, reference §3.1). */
const BACKDATE_SECONDS = 600;

/** Certificate names as the service allows them in create and import. */
export function assertCertificateName(name: string): void {
  if (!/^[0-9a-zA-Z-]{1,127}$/.test(name)) {
    throw badParameter(`The certificate name '${name}' is invalid: use 1-127 letters, digits and dashes.`);
  }
}

function assertNoCreateRunning(record: CertificateRecord | undefined, name: string): void {
  if (record?.pending?.status === 'inProgress') throw pendingInProgress(name);
}

/** A soft-deleted certificate holds its name until it is recovered, purged, or its retention ends (409). */
function assertNameNotDeleted(ctx: VaultContext, name: string): void {
  if (ctx.store.getDeleted(name)) throw deletedButRecoverable('certificate', name);
}

export interface CreateRequest {
  policy: CertificatePolicyInput;
  enabled?: boolean;
  tags?: Record<string, string>;
}

/**
 * Starts a create: issues the certificate now (so publishing later is a synchronous flip on the clock) but keeps it
 * staged until `createDelaySeconds` have passed. Its times are those of the moment it completes.
 */
export async function startCreate(ctx: VaultContext, name: string, req: CreateRequest): Promise<CertificateRecord> {
  assertCertificateName(name);
  assertNameNotDeleted(ctx, name);
  const existing = ctx.store.get(name);
  assertNoCreateRunning(existing, name);
  const policy = completePolicy(req.policy, nowSeconds(ctx), existing?.policy, { requireSelfIssuer: true });

  const latest = existing?.versions.at(-1);
  const reusedKey = policy.key_props.reuse_key && latest ? ctx.store.privateKeyOf(name, latest.version) : undefined;
  const keys = reusedKey ? await keyPairFromPkcs8(reusedKey) : await ctx.opts.takeKeyPair(policy.key_props.key_size);

  const completesAt = ctx.opts.now() + Math.max(0, ctx.opts.createDelaySeconds) * 1000;
  const created = Math.floor(completesAt / 1000);
  const nbf = created - BACKDATE_SECONDS;
  const exp = validityEnd(created, policy.x509_props.validity_months);
  const issued = await issueSelfSigned(policy, keys, nbf, exp);

  // Another create for the same name may have started (or the name been deleted) while this one awaited the key
  // pool or the signature.
  assertNameNotDeleted(ctx, name);
  const record = ctx.store.get(name);
  assertNoCreateRunning(record, name);
  const target = ctx.store.upsert(name, policy);
  const version = newId();
  const op: PendingOperation = {
    version,
    requestId: newId(),
    csrDer: issued.csrDer,
    status: 'inProgress',
    cancellationRequested: false,
    completesAt,
    staged: {
      version,
      certDer: issued.certDer,
      thumbprint: thumbprintOf(issued.certDer),
      enabled: req.enabled ?? true,
      nbf,
      exp,
      created,
      updated: created,
      tags: { ...(req.tags ?? {}) },
      contentType: policy.secret_props.contentType,
      exportable: policy.key_props.exportable,
    },
  };
  ctx.store.startPending(target, op, issued.privateKeyPkcs8);
  return target;
}

export interface ImportRequest {
  certDer: Uint8Array;
  privateKeyPkcs8: Uint8Array;
  policy?: CertificatePolicyInput;
  contentType?: SecretContentType;
  enabled?: boolean;
  tags?: Record<string, string>;
}

/** Adds a version from existing material; a new certificate gets a policy describing that material (issuer `Unknown`). */
export function importVersion(
  ctx: VaultContext,
  name: string,
  req: ImportRequest,
): { record: CertificateRecord; version: string; thumbprint: string } {
  assertCertificateName(name);
  assertNameNotDeleted(ctx, name);
  const existing = ctx.store.get(name);
  assertNoCreateRunning(existing, name);
  let cert: X509Certificate;
  let keySize: number;
  try {
    cert = new X509Certificate(req.certDer);
    const key = createPrivateKey({ key: Buffer.from(req.privateKeyPkcs8), format: 'der', type: 'pkcs8' });
    keySize = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    if (!cert.checkPrivateKey(key)) throw badParameter('The private key does not match the certificate.');
  } catch (e) {
    if (e instanceof Error && e.name === 'KeyVaultError') throw e;
    throw badParameter('The certificate or its private key could not be read (RSA keys only).');
  }
  const nbf = Math.floor(Date.parse(cert.validFrom) / 1000);
  const exp = Math.floor(Date.parse(cert.validTo) / 1000);
  const now = nowSeconds(ctx);
  const described = existing?.policy ?? {
    ...completePolicy(
      {
        key_props: { kty: 'RSA', key_size: keySize },
        x509_props: {
          subject: cert.subject.split('\n').join(', '),
          validity_months: Math.max(1, Math.round((exp - nbf) / (86_400 * (365 / 12)))),
        },
        issuer: { name: 'Unknown' },
      },
      now,
    ),
  };
  const contentTypeInput = req.contentType ? { secret_props: { contentType: req.contentType } } : {};
  const policy = completePolicy({ ...(req.policy ?? {}), ...contentTypeInput }, now, described);

  const record = ctx.store.upsert(name, policy);
  const version = newId();
  const thumbprint = thumbprintOf(req.certDer);
  ctx.store.addVersion(
    record,
    {
      version,
      certDer: new Uint8Array(req.certDer),
      thumbprint,
      enabled: req.enabled ?? true,
      nbf,
      exp,
      created: now,
      updated: now,
      tags: { ...(req.tags ?? {}) },
      contentType: policy.secret_props.contentType,
      exportable: policy.key_props.exportable,
    },
    new Uint8Array(req.privateKeyPkcs8),
  );
  return { record, version, thumbprint };
}

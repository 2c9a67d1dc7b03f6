/**
 * The vault's in-memory state: certificates, their versions, the one policy per certificate and the pending create
 * operation. Private keys live in a separate private map that no public accessor returns wholesale, so `state()` and
 * every record handed out carry ids, thumbprints and times only (DESIGN I4).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CertificatePolicy, SecretContentType } from './policy.js';

/** One certificate version (and its key and secret, which share the version id). Public data only. */
export interface CertificateVersionRecord {
  version: string;
  certDer: Uint8Array;
  /** Uppercase hex SHA-1 of the DER, as the portal shows it. */
  thumbprint: string;
  enabled: boolean;
  /** Epoch seconds. */
  nbf: number;
  exp: number;
  created: number;
  updated: number;
  tags: Record<string, string>;
  /** The secret's content type, fixed when the version was made. */
  contentType: SecretContentType;
  exportable: boolean;
}

/** Status values exactly as the SDK compares them (case-sensitive `inProgress`). */
export type OperationStatus = 'inProgress' | 'completed' | 'failed' | 'cancelled';

/** A certificate create that becomes a version once the sandbox clock reaches `completesAt`. */
export interface PendingOperation {
  /** The version id the new certificate will get. */
  version: string;
  requestId: string;
  csrDer: Uint8Array;
  status: OperationStatus;
  cancellationRequested: boolean;
  /** Sandbox time (ms) at which the version is published. */
  completesAt: number;
  /** The version waiting to be published; dropped on cancel or delete. */
  staged?: CertificateVersionRecord;
  error?: { code: string; message: string };
}

export interface CertificateRecord {
  name: string;
  policy: CertificatePolicy;
  /** In creation order: the last one is "latest". */
  versions: CertificateVersionRecord[];
  pending?: PendingOperation;
}

/**
 * A soft-deleted certificate with all its versions, keys and policy (its secret and key are deleted with it), kept
 * recoverable until `scheduledPurgeDate`. Times are epoch seconds on the sandbox clock.
 */
export interface DeletedCertificateRecord {
  record: CertificateRecord;
  deletedDate: number;
  scheduledPurgeDate: number;
}

/** `GET /state` view of one vault (DESIGN §6). Times are ISO-8601 UTC. */
export interface VaultState {
  url: string;
  certificates: Array<{
    name: string;
    versions: Array<{
      version: string;
      thumbprint: string;
      enabled: boolean;
      created: string;
      expires: string;
      tags: Record<string, string>;
    }>;
  }>;
}

/** Uppercase hex SHA-1 of a DER certificate. */
export function thumbprintOf(certDer: Uint8Array): string {
  return createHash('sha1').update(certDer).digest('hex').toUpperCase();
}

/** A fresh 32-hex-character id, the form Key Vault uses for versions and request ids. */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

export class VaultStore {
  readonly #certificates = new Map<string, CertificateRecord>();
  readonly #deleted = new Map<string, DeletedCertificateRecord>();
  /** `name/version` → PKCS#8 DER. Never enumerated, never serialised. */
  readonly #privateKeys = new Map<string, Uint8Array>();

  constructor(private readonly now: () => number) {}

  /** The certificate, with any pending create that has come due published first. */
  get(name: string): CertificateRecord | undefined {
    const record = this.#certificates.get(name);
    if (record) this.#settle(record);
    return record;
  }

  /** Every certificate name, settled, in insertion order. */
  list(): CertificateRecord[] {
    const all = [...this.#certificates.values()];
    for (const r of all) this.#settle(r);
    return all;
  }

  /** Creates the certificate resource on first use, or replaces its policy. */
  upsert(name: string, policy: CertificatePolicy): CertificateRecord {
    const existing = this.get(name);
    if (existing) {
      existing.policy = policy;
      return existing;
    }
    const record: CertificateRecord = { name, policy, versions: [] };
    this.#certificates.set(name, record);
    return record;
  }

  /** Appends a published version and keeps its private key aside. */
  addVersion(record: CertificateRecord, version: CertificateVersionRecord, privateKeyPkcs8: Uint8Array): void {
    this.#privateKeys.set(`${record.name}/${version.version}`, privateKeyPkcs8);
    record.versions.push(version);
  }

  /** Starts a pending create whose staged version is published at `op.completesAt`. */
  startPending(record: CertificateRecord, op: PendingOperation, privateKeyPkcs8: Uint8Array): void {
    this.#privateKeys.set(`${record.name}/${op.version}`, privateKeyPkcs8);
    record.pending = op;
    this.#settle(record);
  }

  /** Cancels an in-progress create: the staged version and its key are discarded. */
  cancelPending(record: CertificateRecord): void {
    const op = record.pending;
    if (!op || op.status !== 'inProgress') return;
    op.cancellationRequested = true;
    op.status = 'cancelled';
    this.#discardStaged(record.name, op);
  }

  /** Removes the pending operation object; an in-progress create is abandoned with it. */
  deletePending(record: CertificateRecord): PendingOperation | undefined {
    const op = record.pending;
    if (!op) return undefined;
    if (op.status === 'inProgress') this.#discardStaged(record.name, op);
    delete record.pending;
    // A certificate that never got a version exists only through its pending create; without it, nothing is left.
    if (record.versions.length === 0) this.#certificates.delete(record.name);
    return op;
  }

  /** Deletes a certificate with all its versions, keys and policy. */
  delete(name: string): CertificateRecord | undefined {
    const record = this.get(name);
    if (!record) return undefined;
    this.#certificates.delete(name);
    this.#dropKeys(name);
    return record;
  }

  /**
   * Soft-deletes a certificate: it leaves the live collection with its versions and keys intact, so `recover` puts
   * back exactly what was there. An in-progress create is abandoned (its staged version and key discarded), as a
   * delete removes the pending operation too. A certificate that never got a version has nothing to recover and is
   * removed outright. Returns undefined for an unknown name.
   */
  softDelete(name: string, deletedDate: number, scheduledPurgeDate: number): DeletedCertificateRecord | undefined {
    const record = this.get(name);
    if (!record) return undefined;
    if (record.pending?.status === 'inProgress') this.#discardStaged(name, record.pending);
    delete record.pending;
    if (record.versions.length === 0) {
      this.delete(name);
      return undefined;
    }
    this.#certificates.delete(name);
    const deleted = { record, deletedDate, scheduledPurgeDate };
    this.#deleted.set(name, deleted);
    return deleted;
  }

  /** The deleted certificate of that name, unless its retention has run out (then it is purged first). */
  getDeleted(name: string): DeletedCertificateRecord | undefined {
    const deleted = this.#deleted.get(name);
    if (deleted && this.#purgeIfDue(deleted)) return undefined;
    return deleted;
  }

  /** Every deleted certificate still within its retention, in deletion order. */
  listDeleted(): DeletedCertificateRecord[] {
    return [...this.#deleted.values()].filter((d) => !this.#purgeIfDue(d));
  }

  /** Moves a deleted certificate back into the live collection, versions, keys and policy as they were. */
  recover(name: string): CertificateRecord | undefined {
    const deleted = this.getDeleted(name);
    if (!deleted) return undefined;
    this.#deleted.delete(name);
    this.#certificates.set(name, deleted.record);
    return deleted.record;
  }

  /** Removes a deleted certificate for good, with its keys. */
  purge(name: string): DeletedCertificateRecord | undefined {
    const deleted = this.getDeleted(name);
    if (!deleted) return undefined;
    this.#deleted.delete(name);
    this.#dropKeys(name);
    return deleted;
  }

  /** The private key of one version, for the secret endpoint and `reuse_key` only. */
  privateKeyOf(name: string, version: string): Uint8Array | undefined {
    return this.#privateKeys.get(`${name}/${version}`);
  }

  /** The admin view: ids, thumbprints, flags and times; no key material and no certificate bytes. */
  state(url: string): VaultState {
    return {
      url,
      certificates: this.list().map((r) => ({
        name: r.name,
        versions: r.versions.map((v) => ({
          version: v.version,
          thumbprint: v.thumbprint,
          enabled: v.enabled,
          created: new Date(v.created * 1000).toISOString(),
          expires: new Date(v.exp * 1000).toISOString(),
          tags: { ...v.tags },
        })),
      })),
    };
  }

  // Publishing is driven by reads rather than timers, so it follows the sandbox clock when tests move it and
  // happens exactly once: the status flips to `completed` in the same step that appends the version.
  #settle(record: CertificateRecord): void {
    const op = record.pending;
    if (!op || op.status !== 'inProgress' || this.now() < op.completesAt || !op.staged) return;
    record.versions.push(op.staged);
    delete op.staged;
    op.status = 'completed';
  }

  // The service purges a deleted object once its retention ends; here that happens on the first read after it.
  #purgeIfDue(deleted: DeletedCertificateRecord): boolean {
    if (this.now() < deleted.scheduledPurgeDate * 1000) return false;
    this.#deleted.delete(deleted.record.name);
    this.#dropKeys(deleted.record.name);
    return true;
  }

  #dropKeys(name: string): void {
    for (const key of [...this.#privateKeys.keys()]) if (key.startsWith(`${name}/`)) this.#privateKeys.delete(key);
  }

  #discardStaged(name: string, op: PendingOperation): void {
    delete op.staged;
    this.#privateKeys.delete(`${name}/${op.version}`);
  }
}

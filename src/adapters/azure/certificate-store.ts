/**
 * The {@link CertificateStore} port over `@azure/keyvault-certificates`: new versions with the target's policy,
 * serialisable create operations that a resumed run polls without a second POST, versions with their tags, and
 * enable/disable.
 */
import type { TokenCredential } from '@azure/identity';
import type {
  CertificateClient,
  CertificatePolicy,
  CertificateProperties,
  KeyVaultCertificate,
} from '@azure/keyvault-certificates';
import type { Logger } from 'pino';
import {
  AdapterError,
  type CallOptions,
  type CertificatePolicySpec,
  type CertificateStore,
  type CertificateVersion,
  type CreateOperationState,
  type CreateOperationStatus,
  type PendingCreate,
} from '../ports.js';
import { classified, classifyError } from './errors.js';
import { isAzureVaultHost, KEY_VAULT_SERVICE_VERSION } from './key-material.js';
import type { ServiceLimiter } from './limiter.js';
import { limiterClientOptions } from './limiter-policies.js';

/** Options of {@link createCertificateStore}. */
export interface CertificateStoreOptions {
  vaultUrl: string;
  credential: TokenCredential;
  caPem?: string;
  logger?: Logger;
  /**
   * In-process retries of the SDK (default 0). The machine owns retries: its waits are deadline-based, persisted and
   * honour `retryAfterMs`, whereas the SDK would sleep out any Retry-After in-process, and would re-POST a create
   * whose answer was lost (which then meets a 409 from its own first attempt).
   */
  maxRetries?: number;
  /** The shared limiter (the vault's budgets); see limiter-policies.ts for how it meets the SDK's retries. */
  limiter?: ServiceLimiter;
}

const abort = (o?: CallOptions) => (o?.signal ? { abortSignal: o.signal } : {});

/** The SDK's policy for a {@link CertificatePolicySpec}: self-issued, exportable, a new key per version. */
export function toSdkPolicy(spec: CertificatePolicySpec): CertificatePolicy {
  return {
    issuerName: 'Self',
    subject: spec.subject,
    validityInMonths: spec.validityMonths,
    keyType: spec.keyType,
    keySize: spec.keySize,
    contentType: spec.contentType,
    exportable: true,
    reuseKey: false,
  };
}

// A result revived from a serialised poller state carries its dates as strings.
const iso = (d: Date | string | undefined) => (d ? new Date(d).toISOString() : '');

function thumbprintOf(p: CertificateProperties): string {
  if (p.x509ThumbprintString) return p.x509ThumbprintString.toUpperCase();
  return p.x509Thumbprint ? Buffer.from(p.x509Thumbprint).toString('hex').toUpperCase() : '';
}

/** Public facts of one version. The secret of a certificate version has the same version id (keyvault §6). */
export function toCertificateVersion(name: string, p: CertificateProperties, secretId?: string): CertificateVersion {
  const version = p.version ?? '';
  const vaultUrl = (p.vaultUrl ?? (p.id ? new URL(p.id).origin : '')).replace(/\/+$/, '');
  return {
    version,
    thumbprint: thumbprintOf(p),
    secretId: secretId ?? `${vaultUrl}/secrets/${name}/${version}`,
    enabled: p.enabled ?? true,
    createdOn: iso(p.createdOn),
    notBefore: iso(p.notBefore),
    expiresOn: iso(p.expiresOn),
    tags: { ...(p.tags ?? {}) },
  };
}

function fromCertificate(name: string, c: KeyVaultCertificate): CertificateVersion {
  return toCertificateVersion(name, c.properties, c.secretId);
}

/**
 * Whether the poller saw the operation leave `inProgress`. The SDK keeps the CertificateOperation itself out of the
 * public state (`cleanState`), so `isCompleted` (set on any status other than inProgress) and `error` are all we see;
 * a `cancelled` operation without an error therefore reads as completed, with the latest version as result.
 */
function finished(poller: { getOperationState(): { isCompleted?: boolean; error?: Error } }): boolean {
  const st = poller.getOperationState();
  return Boolean(st.isCompleted || st.error);
}

/** A serialised poller state for `certificate` that resumes polling an operation someone already started. */
function startedState(certificate: string): string {
  return JSON.stringify({ state: { certificateName: certificate, isStarted: true } });
}

/** The inner error code of a Key Vault `RestError` (`details.error.innerError.code`), if any. */
function innerCodeOf(err: unknown): string | undefined {
  const details = (err as { details?: { error?: { innerError?: { code?: unknown } } } } | undefined)?.details;
  const code = details?.error?.innerError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The vault name az and the portal use: the first DNS label of a `*.vault.azure.net`-style host; any other host
 * (an emulator) is named by its host and port.
 */
export function vaultNameOf(vaultUrl: string): string {
  const url = new URL(vaultUrl);
  return isAzureVaultHost(vaultUrl) ? url.hostname.split('.')[0]! : url.host;
}

/**
 * A create refused because the name belongs to a soft-deleted certificate (409 `ObjectIsDeletedButRecoverable`):
 * nothing certrotate can retry its way out of; the operator recovers the certificate (keeping its versions) or purges
 * it. The message says which vault, which certificate, and the command that recovers it.
 */
export function deletedButRecoverableError(vaultUrl: string, certificate: string, err: unknown): AdapterError {
  const detail = classifyError(err);
  const vault = vaultNameOf(vaultUrl);
  return new AdapterError({
    code: 'conflict',
    message:
      `Key Vault ${vault} (${vaultUrl}): certificate ${certificate} is deleted but recoverable (soft delete), so ` +
      `its name cannot be used for a new version. Recover it with ` +
      `\`az keyvault certificate recover --vault-name ${vault} --name ${certificate}\` and run again, or purge it ` +
      `(\`az keyvault certificate purge --vault-name ${vault} --name ${certificate}\`) if its versions are not needed.`,
    retryable: false,
    status: 409,
    ...(detail.requestId ? { requestId: detail.requestId } : {}),
  });
}

/**
 * A {@link CertificateStore} over one vault; the SDK client is made on first use, and the SDK loaded then too, so a
 * command starts its first request (certrotate's token, Graph) without waiting for the Key Vault SDK to load.
 */
export function createCertificateStore(opts: CertificateStoreOptions): CertificateStore {
  let client: CertificateClient | undefined;
  const kv = async () => {
    if (client) return client;
    const { CertificateClient } = await import('@azure/keyvault-certificates');
    return (client ??= new CertificateClient(opts.vaultUrl, opts.credential, {
      serviceVersion: KEY_VAULT_SERVICE_VERSION,
      // The challenge names https://vault.azure.net; a vault at 127.0.0.1 can never match it (keyvault §4.4).
      disableChallengeResourceVerification: !isAzureVaultHost(opts.vaultUrl),
      ...(opts.caPem ? { tlsOptions: { ca: opts.caPem } } : {}),
      retryOptions: { maxRetries: opts.maxRetries ?? 0 },
      ...limiterClientOptions(opts.limiter),
    }));
  };
  const ctx = (what: string) => ({ operation: `Key Vault ${opts.vaultUrl}: ${what}` });

  /**
   * Resumes the poller from `serialized` and lets it poll once (the SDK's begin* always polls once). A started state
   * never POSTs: it GETs /pending and, once that is no longer inProgress, GETs the latest version.
   */
  async function resume(certificate: string, serialized: string, o?: CallOptions) {
    return (await kv()).beginCreateCertificate(
      certificate,
      { issuerName: 'Self', subject: 'CN=unused' },
      {
        resumeFrom: serialized,
        ...abort(o),
      },
    );
  }

  const store: CertificateStore = {
    async listVersions(certificate, o) {
      return classified(ctx(`listing versions of ${certificate}`), async () => {
        const out: CertificateVersion[] = [];
        for await (const p of (await kv()).listPropertiesOfCertificateVersions(certificate, abort(o))) {
          // A version still being created has no certificate yet; it is not a version anyone can use.
          if (p.version && (p.x509ThumbprintString || p.x509Thumbprint)) out.push(toCertificateVersion(certificate, p));
        }
        // The service does not promise an order (keyvault §11).
        return out.sort((a, b) => a.createdOn.localeCompare(b.createdOn) || a.version.localeCompare(b.version));
      });
    },

    async getVersion(certificate, version, o) {
      return classified(ctx(`reading ${certificate}/${version}`), async () => {
        try {
          return fromCertificate(certificate, await (await kv()).getCertificateVersion(certificate, version, abort(o)));
        } catch (err) {
          if (classifyError(err).code === 'notFound') return undefined;
          throw err;
        }
      });
    },

    async findVersionByTag(certificate, name, value, o) {
      let versions: CertificateVersion[];
      try {
        versions = await store.listVersions(certificate, o);
      } catch (err) {
        if (err instanceof AdapterError && err.detail.code === 'notFound') return undefined;
        throw err;
      }
      return versions.filter((v) => v.tags[name] === value).at(-1);
    },

    async getPendingCreate(certificate, o) {
      return classified(ctx(`looking for a pending create of ${certificate}`), async () => {
        let poller;
        try {
          poller = await resume(certificate, startedState(certificate), o);
        } catch (err) {
          const pe = classifyError(err);
          // No pending operation (404), or one that ended in failure: nothing is pending.
          if (pe.code === 'notFound' || pe.code === 'unknown') return undefined;
          throw err;
        }
        if (finished(poller)) return undefined;
        const pending: PendingCreate = { operation: { certificateName: certificate, serialized: poller.toString() } };
        return pending;
      });
    },

    async beginCreate(certificate, policy, tags, o) {
      return classified(ctx(`creating a new version of ${certificate}`), async () => {
        let poller;
        try {
          poller = await (await kv()).beginCreateCertificate(certificate, toSdkPolicy(policy), { tags, ...abort(o) });
        } catch (err) {
          if (innerCodeOf(err) === 'ObjectIsDeletedButRecoverable') {
            throw deletedButRecoverableError(opts.vaultUrl, certificate, err);
          }
          throw err;
        }
        opts.logger?.debug({ certificate, tags }, 'Key Vault create started');
        const state: CreateOperationState = { certificateName: certificate, serialized: poller.toString() };
        return state;
      });
    },

    async pollCreate(operation, o): Promise<CreateOperationStatus> {
      const name = operation.certificateName;
      let poller;
      try {
        poller = await resume(name, operation.serialized, o);
      } catch (err) {
        const pe = classifyError(err, ctx(`polling the create of ${name}`));
        // The SDK rejects with a plain Error(message) when the operation reports `failed` with an error.
        if (pe.code === 'unknown') {
          return { status: 'failed', error: { code: 'operationFailed', message: pe.message, retryable: false } };
        }
        throw new AdapterError(pe);
      }
      if (!finished(poller)) return { status: 'inProgress' };
      const error = poller.getOperationState().error;
      if (error) {
        return {
          status: 'failed',
          error: {
            code: 'operationFailed',
            message: `Key Vault create of ${name} failed: ${error.message}`,
            retryable: false,
          },
        };
      }
      const result = poller.getResult();
      if (!result?.properties.version) {
        throw new AdapterError({
          code: 'unknown',
          message: `Key Vault create of ${name} completed without a version`,
          retryable: true,
        });
      }
      // Re-read the version: a state serialised after completion revives its result from JSON (dates as strings,
      // the thumbprint bytes as a plain object), so the service's answer is the one to trust.
      const version = await classified(ctx(`reading the created version of ${name}`), async () =>
        (await kv()).getCertificateVersion(name, result.properties.version!, abort(o)),
      );
      return { status: 'completed', version: fromCertificate(name, version) };
    },

    async setVersionEnabled(certificate, version, enabled, o) {
      await classified(ctx(`${enabled ? 'enabling' : 'disabling'} ${certificate}/${version}`), async () => {
        await (await kv()).updateCertificateProperties(certificate, version, { enabled, ...abort(o) });
      });
    },
  };
  return store;
}

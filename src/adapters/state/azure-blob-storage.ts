/**
 * What the `azure-blob` run store and lock share: the container client (certrotate's own credential, scope
 * `https://storage.azure.com/.default`), the object names under `state.prefix`, the lease id of a run, and how a
 * storage error reads (status and `x-ms-error-code`, fleet-state §2.2) and is told to a person.
 */
import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient, type StorageSharedKeyCredential } from '@azure/storage-blob';
import { RunStoreError } from './run-format.js';

/** Where the state lives: an account, a container, and a prefix inside it (`""` or ending in `/`). */
export interface BlobStateLocation {
  accountUrl: string;
  container: string;
  prefix: string;
}

/**
 * A container client over `location`. Retries are kept short (3 tries, ≤ 2 s apart): a store that is down must stop
 * a run within seconds at a step boundary, not after the SDK's two minutes of backoff; `resume` picks it up.
 */
export function openContainer(
  location: BlobStateLocation,
  credential: TokenCredential | StorageSharedKeyCredential,
): ContainerClient {
  const service = new BlobServiceClient(location.accountUrl.replace(/\/+$/, ''), credential, {
    retryOptions: { maxTries: 3, retryDelayInMs: 250, maxRetryDelayInMs: 2000, tryTimeoutInMs: 15_000 },
  });
  return service.getContainerClient(location.container);
}

/** `prefix` as object names use it: empty, or ending in one `/`. */
export function normalisePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p ? `${p}/` : '';
}

/**
 * The lease id a run proposes for its target's lock: a GUID (storage refuses other lease ids) derived from the run
 * id, so that re-acquiring after a lost reply is idempotent (the same id gets 201 again, fleet-state §0.3) and so
 * that a takeover can name the stale holder's lease (`change` from its id to ours) knowing only its run id.
 */
export function leaseIdOf(runId: string): string {
  const h = createHash('sha256').update(`certrotate-lock:${runId}`).digest();
  // RFC 4122 version 5 / variant bits, so that the id is a well-formed GUID.
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The HTTP status of a storage error (undefined when no reply came: a refused connection, a timeout). */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The storage error code (`x-ms-error-code`, e.g. `LeaseAlreadyPresent`), when the reply had one. */
export function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { errorCode?: unknown } };
  if (typeof e.details?.errorCode === 'string') return e.details.errorCode;
  return typeof e.code === 'string' ? e.code : undefined;
}

/** True for 412 Precondition Failed: an `If-Match`, `If-None-Match`, append position or lease condition failed. */
export const isPreconditionFailed = (err: unknown) => statusOf(err) === 412;
/** True for 409 Conflict (`BlobAlreadyExists`, `LeaseAlreadyPresent`, `LeaseIdMismatchWithLeaseOperation`, …). */
export const isConflict = (err: unknown) => statusOf(err) === 409;
/** True for 404 (the blob, or the container, does not exist). */
export const isNotFound = (err: unknown) => statusOf(err) === 404;

/** The run state storage could not be used: unreachable, refused, or a container that does not exist. */
export class BlobStateError extends RunStoreError {}

/**
 * A storage failure as a person reads it: what was being done, where, and what to do. A missing container and a
 * refused sign-in say so; anything else keeps the service's status and code.
 */
export function blobStateError(what: string, where: string, err: unknown, next?: string): BlobStateError {
  const status = statusOf(err);
  const code = codeOf(err);
  const message = (err as Error)?.message?.split('\n')[0] ?? String(err);
  if (code === 'ContainerNotFound') {
    return new BlobStateError(`${what}: the state container ${where} does not exist; create it, then try again`);
  }
  if (status === 401 || status === 403) {
    return new BlobStateError(
      `${what}: ${where} refused certrotate's identity (${status} ${code ?? ''}); it needs the role Storage Blob ` +
        'Data Contributor on the container',
    );
  }
  const reason = status === undefined ? `no answer (${code ?? message})` : `${status} ${code ?? message}`;
  return new BlobStateError(`${what}: state storage ${where} failed: ${reason}${next ? `; ${next}` : ''}`);
}

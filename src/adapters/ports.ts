/**
 * Ports: the interfaces through which the rotation machine and the commands reach the outside world.
 *
 * The machines in `src/machines/` never import an adapter; the runner binds adapters to these ports with
 * `machine.provide()`. Every method states whether it is idempotent, because a resumed run re-invokes the step
 * that was active when the process died (DESIGN §2, I3).
 */

// ---------------------------------------------------------------------------------------------------------------
// Runs: persistence, journal, lock, clock (state backends in src/adapters/state/, one file per kind)
// ---------------------------------------------------------------------------------------------------------------

/** The persisted form of one run's machine snapshot (DESIGN §4). */
export interface RunEnvelope {
  formatVersion: 1;
  /** The rotation machine's version; a snapshot of another version is refused on restore. */
  machineVersion: string;
  runId: string;
  target: string;
  /** ISO-8601 UTC time of the write. */
  updatedAt: string;
  /** The XState persisted snapshot (`actor.getPersistedSnapshot()`): ids, thumbprints and times only (I4). */
  snapshot: unknown;
}

/** One line of a run's append-only audit journal. Ids, thumbprints and times only: never key material (I4). */
export interface JournalEntry {
  /** ISO-8601 UTC. */
  time: string;
  runId: string;
  target: string;
  /** The step or state the entry is about, e.g. `attachKeyCredential`. */
  step: string;
  /** What happened: `started`, `succeeded`, `skipped`, `retrying`, `failed`, `confirmed`, `parked`, … */
  event: string;
  oldThumbprint?: string;
  newThumbprint?: string;
  /** Service request ids (x-ms-request-id, client-request-id) that correlate with Azure's own logs. */
  requestIds?: string[];
  /** Who ran it: user@host. */
  actor?: string;
  /** A short human sentence or a plain-JSON error `{code, message}`. */
  detail?: string | { code?: string; message: string; retryable?: boolean };
}

/** What `runs` lists for one run. */
export interface RunSummary {
  runId: string;
  target: string;
  /** The machine's final outcome, or null while the run is unfinished. */
  outcome: string | null;
  /** The machine's current state value, flattened (`verifying`, `retiring.removingKeyCredential`). */
  state: string;
  startedAt: string;
  updatedAt: string;
  /**
   * Present only when the run's snapshot cannot be read (corrupt, foreign or unreadable): why, naming where it is.
   * `state` and `outcome` are then `corrupt`, and `target` is read from the journal or the run id (`(unknown)` when
   * neither tells). A corrupt run is listed, never skipped: its state is unknown, so it blocks its target.
   */
  error?: string;
}

/** Durable storage of runs. */
export interface RunStore {
  /**
   * Writes a run's snapshot atomically (temp file, fsync, rename, fsync dir). Writes for one run are queued, so a
   * later call never lands before an earlier one. Idempotent: writing the same envelope twice leaves the same file.
   */
  saveSnapshot(envelope: RunEnvelope): Promise<void>;
  /** Reads a run's envelope, or undefined when the run does not exist. Throws on a corrupt or foreign file. */
  loadSnapshot(runId: string): Promise<RunEnvelope | undefined>;
  /** Appends one line to the run's journal. Not idempotent by nature: callers journal facts, not intentions. */
  appendJournal(entry: JournalEntry): Promise<void>;
  /** The run's journal in order; empty when there is none. */
  readJournal(runId: string): Promise<JournalEntry[]>;
  /** Stores the plan a run was started from (`plan.json`). Idempotent (overwrites). */
  savePlan(runId: string, plan: unknown): Promise<void>;
  /** Every run known to the store, newest first; a run whose snapshot cannot be read is listed as corrupt. */
  listRuns(): Promise<RunSummary[]>;
  /**
   * Reads a small named record kept beside the runs (e.g. `notify-sent`, what `scan --notify` already told), or
   * undefined when none was written. `name` is lower-case letters, digits and `-` ({@link assertRecordName}).
   */
  readRecord(name: string): Promise<unknown>;
  /**
   * Writes the record (an atomic overwrite; the last writer wins). Callers keep in it only what is safe to lose to a
   * concurrent writer: at worst a fact is re-derived and a notification repeated, never a run's state.
   */
  writeRecord(name: string, value: unknown): Promise<void>;
  /** Resolves when every queued write has reached the disk. */
  flush(): Promise<void>;
}

/** Who holds a target's lock. */
export interface LockHolder {
  runId: string;
  pid: number;
  host: string;
  /** ISO-8601 UTC; past it, a holder that stopped renewing is stale. */
  leaseExpiresAt: string;
}

/** The outcome of `unlock --force` ({@link TargetLock.forceRelease}). */
export type ForcedRelease =
  | { status: 'notLocked' }
  | { status: 'removed'; holder: LockHolder }
  /**
   * The holder may still be running: its process is alive on this host (`processAlive`), its lease on another host
   * has not expired (`leaseActive`), or another run is taking the lock over right now (`takeoverInProgress`).
   */
  | { status: 'refused'; holder: LockHolder; reason: 'processAlive' | 'leaseActive' | 'takeoverInProgress' };

/** Options of {@link TargetLock.forceRelease}. */
export interface ForceReleaseOptions {
  /**
   * Break the holder's lease even though it has not expired (`unlock --break-lease`, or `--force` twice): for a
   * backend whose leases are enforced by the store (azure-blob), the holder's next renewal then fails and it stops at
   * its next step boundary. Backends without such leases ignore it.
   */
  breakLease?: boolean;
}

/** The outcome of trying to take a target's lock. */
export type LockAcquisition = { acquired: true; takenOverFrom?: LockHolder } | { acquired: false; holder: LockHolder };

/** One run per target (I5). */
export interface TargetLock {
  /**
   * Takes the target's lock for `runId`. Succeeds when the lock is free, already held by `runId` (idempotent), or
   * stale: the holder's process on this host is gone, or its lease expired. Otherwise returns the holder.
   */
  acquire(target: string, runId: string): Promise<LockAcquisition>;
  /** Extends the lease of a lock held by `runId`. Throws when another run holds it. */
  renew(target: string, runId: string): Promise<void>;
  /** Releases the lock if `runId` holds it; a no-op otherwise (idempotent). */
  release(target: string, runId: string): Promise<void>;
  /**
   * Removes the lock of a holder that is gone (`unlock --force`): its process on this host has exited, or (a holder
   * on another host, whose process cannot be checked from here) its lease expired. Never removes the lock of a holder
   * that may still be running: that would let a second process drive the same target or run at once (I5).
   * Idempotent.
   */
  forceRelease(target: string, opts?: ForceReleaseOptions): Promise<ForcedRelease>;
  /** The current holder, or undefined. */
  holder(target: string): Promise<LockHolder | undefined>;
}

/** Time, injectable so backoff and deadlines are tested with a simulated clock and no real sleeps. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time; rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// The shared error model
// ---------------------------------------------------------------------------------------------------------------

/**
 * Well-known error codes every adapter maps its service errors to, so the machine can decide retry vs fail without
 * knowing which service spoke. Adapters may use other codes; unknown codes are treated by their `retryable` flag.
 */
export type PortErrorCode =
  /** 429: back off (`retryAfterMs` says how long when the service said so). Retryable. */
  | 'throttled'
  /** 5xx or a dropped connection. Retryable. */
  | 'unavailable'
  /** The call did not answer in time; its effect is unknown, so the step must observe again. Retryable. */
  | 'timeout'
  /** Entra does not know the key yet (AADSTS700027 "key was not found"): propagation. Retryable until a deadline. */
  | 'keyNotFound'
  /** The credential's validity window is over (AADSTS700027 "key used is expired", or a proof signed by it). Fatal. */
  | 'keyExpired'
  /** The resource (app, certificate, version, key credential) does not exist. */
  | 'notFound'
  /** A conflicting operation exists (e.g. Key Vault 409 while a create is pending). */
  | 'conflict'
  /** 401/403: the caller lacks a permission. Fatal: a person must grant it. */
  | 'forbidden'
  /** The proof of possession was refused (addKey/removeKey). Fatal for that key. */
  | 'invalidProof'
  /** 400: the request itself is wrong. Fatal. */
  | 'invalidRequest'
  /** A long-running operation ended in `failed` or `cancelled`. Fatal. */
  | 'operationFailed'
  /** The caller aborted (Ctrl-C). Not an error of the service. */
  | 'aborted'
  /** A server refused a key older than the one it holds (the message names the key in use). Fatal: superseded. */
  | 'serverHasNewerKey'
  | 'unknown';

/**
 * A plain-JSON error: what every port rejects with (wrapped in {@link AdapterError}) and what the machine stores.
 * Plain JSON because `Error` objects stringify to `{}` in a persisted snapshot.
 */
export interface PortError {
  code: PortErrorCode | (string & {});
  message: string;
  /** True when the same call may succeed later without a person changing anything. */
  retryable: boolean;
  /** The service's Retry-After, in milliseconds. */
  retryAfterMs?: number;
  /** The HTTP status, when there was one. */
  status?: number;
  /** x-ms-request-id / client-request-id, to correlate with Azure's own logs. */
  requestId?: string;
  /** The request never left this machine (connection refused, DNS failure): the call cannot have had an effect. */
  notSent?: true;
}

/** The `Error` adapters throw: carries a {@link PortError} and serialises to it. */
export class AdapterError extends Error {
  readonly detail: PortError;
  constructor(detail: PortError) {
    super(detail.message);
    this.name = 'AdapterError';
    this.detail = detail;
  }
  toJSON(): PortError {
    return { ...this.detail };
  }
}

/** True when `value` has the shape of a {@link PortError}. */
export function isPortError(value: unknown): value is PortError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PortError).code === 'string' &&
    typeof (value as PortError).message === 'string' &&
    typeof (value as PortError).retryable === 'boolean'
  );
}

/**
 * Turns anything thrown into a plain {@link PortError}. An unclassified error is not retryable: retrying what we do
 * not understand could repeat a side effect nobody observed. An AbortError becomes `aborted`.
 */
export function toPortError(thrown: unknown): PortError {
  if (thrown instanceof AdapterError) return { ...thrown.detail };
  if (isPortError(thrown)) return { ...thrown };
  if (thrown instanceof Error) {
    if (thrown.name === 'AbortError') return { code: 'aborted', message: 'aborted', retryable: false };
    return { code: 'unknown', message: thrown.message || thrown.name, retryable: false };
  }
  return { code: 'unknown', message: String(thrown), retryable: false };
}

/** Options every port call accepts. */
export interface CallOptions {
  /** Aborts the call (Ctrl-C, or the machine left the step). */
  signal?: AbortSignal;
  /**
   * The run on whose behalf the call is made, when there is one: server targets send it with the key (the fencing
   * token) and name per-run temp directories after it.
   */
  runId?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Keys are referenced, never carried (I4)
// ---------------------------------------------------------------------------------------------------------------

/**
 * A reference to a key pair held in Key Vault: the adapter that needs the private key (to sign a proof or an
 * assertion, or to install it on a server) fetches it by `secretId` itself, uses it and drops it. No private key
 * ever crosses a port into the machine.
 */
export interface KeyRef {
  /** Uppercase hex SHA-1 of the certificate's DER. */
  thumbprint: string;
  /** The Key Vault secret id of this certificate version (`https://…/secrets/{name}/{version}`). */
  secretId: string;
  /**
   * ISO-8601 UTC start of the certificate's validity, when known: the fencing token servers compare so that they
   * never move to a key older than the one they hold.
   */
  notBefore?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Key Vault: the certificate store
// ---------------------------------------------------------------------------------------------------------------

/** The certificate policy of a new version (DESIGN §5a `keyVault`). PEM so servers can read the key directly. */
export interface CertificatePolicySpec {
  subject: string;
  validityMonths: number;
  keyType: 'RSA';
  keySize: number;
  contentType: 'application/x-pem-file';
}

/** One version of a Key Vault certificate: public facts only. */
export interface CertificateVersion {
  /** 32 lowercase hex chars; shared by the certificate, key and secret of this version. */
  version: string;
  /** Uppercase hex SHA-1. */
  thumbprint: string;
  secretId: string;
  enabled: boolean;
  /** ISO-8601 UTC. */
  createdOn: string;
  notBefore: string;
  expiresOn: string;
  tags: Record<string, string>;
}

/**
 * A pending create, serialisable (the SDK poller's `toString()`), so that a resumed run polls the same operation
 * (`resumeFrom`) and never POSTs a second create.
 */
export interface CreateOperationState {
  certificateName: string;
  /** The adapter's serialised poller state; opaque to the machine. */
  serialized: string;
}

/** The outcome of one poll of a create operation. */
export type CreateOperationStatus =
  | { status: 'inProgress' }
  | { status: 'completed'; version: CertificateVersion }
  | { status: 'failed'; error: PortError };

/** A create operation found pending on a certificate. */
export interface PendingCreate {
  operation: CreateOperationState;
  /**
   * The run id tag the create was started with, when the service reports tags on the pending certificate; undefined
   * when it cannot tell (UNCONFIRMED whether Key Vault returns tags before completion).
   */
  runId?: string;
}

/** Key Vault certificates (versions, pending creates, enable/disable). */
export interface CertificateStore {
  /** Every version of `certificate`, oldest first. Read-only. Throws `notFound` when the certificate does not exist. */
  listVersions(certificate: string, options?: CallOptions): Promise<CertificateVersion[]>;
  /** One version, or undefined when it does not exist. Read-only. */
  getVersion(certificate: string, version: string, options?: CallOptions): Promise<CertificateVersion | undefined>;
  /**
   * The newest version whose tag `name` equals `value`, or undefined. Read-only: how a re-run finds its own version.
   * (SDK: `listPropertiesOfCertificateVersions` items carry `tags`; `beginCreateCertificate(name, policy, { tags })`
   * sets them.)
   */
  findVersionByTag(
    certificate: string,
    name: string,
    value: string,
    options?: CallOptions,
  ): Promise<CertificateVersion | undefined>;
  /**
   * The create operation pending on `certificate`, or undefined. Read-only. (SDK: `getCertificateOperation`, whose
   * poller `toString()` is the state; `getCertificate` shows the pending bundle's tags where Key Vault reports them.)
   */
  getPendingCreate(certificate: string, options?: CallOptions): Promise<PendingCreate | undefined>;
  /**
   * Starts creating a new version with `policy` and `tags` and returns the serialisable operation state.
   * NOT idempotent: every call makes a new version. Callers look for a tagged version or a pending create first.
   * Throws `conflict` when a create is already pending.
   */
  beginCreate(
    certificate: string,
    policy: CertificatePolicySpec,
    tags: Record<string, string>,
    options?: CallOptions,
  ): Promise<CreateOperationState>;
  /** Polls a create operation once (resuming it from its state; never POSTs). Read-only, idempotent. */
  pollCreate(operation: CreateOperationState, options?: CallOptions): Promise<CreateOperationStatus>;
  /** Enables or disables one version (the key and secret follow). Idempotent. Throws `notFound`. */
  setVersionEnabled(certificate: string, version: string, enabled: boolean, options?: CallOptions): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Graph: the app registration
// ---------------------------------------------------------------------------------------------------------------

/** A certificate credential of an app registration (Graph `keyCredential`, without `key`). */
export interface KeyCredential {
  keyId: string;
  /** Uppercase hex SHA-1 (from `customKeyIdentifier` or the certificate). */
  thumbprint: string;
  /** ISO-8601 UTC. */
  startDateTime: string;
  endDateTime: string;
  usage: 'Verify' | 'Sign' | (string & {});
  type: 'AsymmetricX509Cert' | (string & {});
  displayName?: string;
}

/** What certrotate reads of an app registration. */
export interface AppRegistration {
  /** The object id (`id`): the `iss` of addKey/removeKey proofs. */
  objectId: string;
  appId: string;
  displayName?: string;
  keyCredentials: KeyCredential[];
  /** True when the app has federated identity credentials (platform-managed identity). */
  hasFederatedCredentials: boolean;
}

/** Options of the calls that add a key credential. */
export interface KeyCredentialOptions extends CallOptions {
  /**
   * The new credential's `displayName` (Graph keeps up to 90 characters). certrotate writes its world marker here,
   * `certrotate <runId>` (src/machines/world-markers.ts), so any agent can tell which run added the key. Absent: the
   * certificate's subject.
   */
  displayName?: string;
}

/**
 * The Entra app registration. Directory reads are eventually consistent: a read right after a write may miss it
 * (graph-entra §3.3), so callers never treat one read as proof of absence after a write they may have made.
 */
export interface AppRegistry {
  /** Reads the app by appId. Read-only; may lag writes. Throws `notFound`, `forbidden`, `throttled`. */
  getApp(appId: string, options?: CallOptions): Promise<AppRegistration>;
  /**
   * Graph `addKey`: attaches `newKey`'s certificate, with a proof signed by `proofKey` (a currently valid key of the
   * app). NOT idempotent (a second call may add a second credential): observe first. Throws `invalidProof`,
   * `keyExpired` (the proof key is no longer valid).
   */
  addKey(appId: string, newKey: KeyRef, proofKey: KeyRef, options?: KeyCredentialOptions): Promise<KeyCredential>;
  /**
   * Graph `removeKey` of `keyId`, with a proof signed by `proofKey`. Throws `notFound` when the key is already gone
   * (callers treat that as success), `invalidProof`.
   */
  removeKey(appId: string, keyId: string, proofKey: KeyRef, options?: CallOptions): Promise<void>;
  /**
   * The fallback when no current key can sign a proof: GET the app, then PATCH `keyCredentials` as the existing set
   * (by keyId, never dropping others) plus `add` minus `removeKeyIds`. Idempotent for the merge it computes (a key
   * already present is not added again; an absent one is not removed). Needs Application.ReadWrite permission.
   * Returns the credentials added; each one added gets `options.displayName` when given. Because PATCH replaces the whole collection, a merge computed from a lagging read
   * would drop a key written moments ago: the adapter must re-read after the PATCH and fail (`unavailable`,
   * retryable) if a key it meant to keep is missing, rather than trust one read.
   */
  patchKeyCredentials(
    appId: string,
    change: { add?: KeyRef[]; removeKeyIds?: string[] },
    options?: KeyCredentialOptions,
  ): Promise<KeyCredential[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// The server that uses the key
// ---------------------------------------------------------------------------------------------------------------

/** The key a server reports it uses. */
export interface ServerKeyState {
  /** Uppercase hex SHA-1, or undefined when the server cannot tell (e.g. a `manual` target). */
  thumbprint?: string;
}

/** The application server whose S2S connection uses the key (`webhook`, `command`, `file`, `manual`). */
export interface ServerKeyTarget {
  /** True for a `manual` target: a person installs the key; certrotate cannot do it or observe it. */
  readonly manual: boolean;
  /** Which key the server uses now. Read-only. */
  currentKey(options?: CallOptions): Promise<ServerKeyState>;
  /**
   * Installs `key` (the server pulls it from Key Vault by secret id, or the adapter writes it, mode 0600).
   * Idempotent: installing the key in use again is a no-op. Throws `invalidRequest` on a `manual` target, and
   * `serverHasNewerKey` (not retryable) when the server holds a key with a later `notBefore`: servers never move
   * backwards, so a late install cannot undo another run's newer key.
   */
  install(key: KeyRef, options?: CallOptions): Promise<void>;
  /**
   * Puts `previous` back in service (rollback). Idempotent, like `install`. Going back to an older key is the point
   * of a restore, so the server allows it only in place of the key it replaced; otherwise `serverHasNewerKey`.
   */
  restore(previous: KeyRef, options?: CallOptions): Promise<void>;
  /**
   * The server's own health, where the target reports it (e.g. a `/health` that acquires a Dataverse token with the
   * key it holds). Read-only. Absent when the target cannot tell.
   */
  checkHealth?(options?: CallOptions): Promise<{ healthy: boolean; detail?: string }>;
}

// ---------------------------------------------------------------------------------------------------------------
// Verification: Entra token, Dataverse WhoAmI
// ---------------------------------------------------------------------------------------------------------------

/**
 * An access token. It is a bearer secret: it stays inside the verify step and never reaches context, snapshot,
 * journal or log (I4).
 */
export interface AccessToken {
  token: string;
  /** ISO-8601 UTC. */
  expiresOn: string;
}

/** Acquires tokens with a specific key (client credentials with a certificate assertion). */
export interface TokenVerifier {
  /**
   * A token for `scope` (e.g. `https://contoso.crm.dynamics.com/.default`) signed with `key`. Read-only.
   * Throws `keyNotFound` (AADSTS700027 "key was not found": retryable while Entra propagates a new key),
   * `keyExpired`, `forbidden`.
   */
  acquireToken(appId: string, key: KeyRef, scope: string, options?: CallOptions): Promise<AccessToken>;
}

/** The identity Dataverse maps a token to. */
export interface WhoAmIResult {
  userId: string;
  businessUnitId: string;
  organizationId: string;
}

/** Dataverse, probed with a token. */
export interface DataverseProbe {
  /** `GET {dataverseUrl}/api/data/v9.2/WhoAmI`. Read-only. Throws `forbidden` when no application user matches. */
  whoAmI(dataverseUrl: string, token: AccessToken, options?: CallOptions): Promise<WhoAmIResult>;
}

// ---------------------------------------------------------------------------------------------------------------
// Power Platform: sites (the power-pages flow)
// ---------------------------------------------------------------------------------------------------------------

/** A Power Pages site and its health. */
export interface SiteInfo {
  websiteId: string;
  environmentId: string;
  name: string;
  url: string;
  appId: string;
  /** `running`, `restarting`, `stopped`, … as the platform reports it; `unknown` when read from the configuration. */
  status: string;
  /** The environment's display name, when the API gives it. */
  environmentName?: string;
  /**
   * `api`: read from the Power Platform API. `config`: certrotate's sign-in may not read websites (the API documents
   * delegated sign-in only), so the configured site URL stands in and `name`/`appId` may be empty.
   */
  source?: 'api' | 'config';
}

/** Power Platform websites. */
export interface SiteDirectory {
  /** Reads a site. Read-only. Throws `notFound`. */
  getSite(environmentId: string, websiteId: string, options?: CallOptions): Promise<SiteInfo>;
  /** Whether the site answers healthy now. Read-only. */
  siteHealthy(environmentId: string, websiteId: string, options?: CallOptions): Promise<boolean>;
  /**
   * Every Power Pages site of an environment (all pages of the list). Read-only. Throws `notFound` for an unknown
   * environment, `forbidden` when certrotate's sign-in may not list websites.
   */
  listSites(environmentId: string, options?: CallOptions): Promise<SiteInfo[]>;
}

/** What certrotate's own identity may do to an app registration's key credentials. */
export interface AppAccess {
  /** certrotate's identity is one of the app's owners. */
  owner: boolean;
  /** It may PATCH the app's key credentials: an owner with Application.ReadWrite.OwnedBy, or a directory-wide write. */
  canWrite: boolean;
  /** Why, in one line (e.g. which permission or that it is not an owner). */
  detail: string;
}

/** Who may change an app registration (power-pages preflight: the retire step PATCHes the old key away). */
export interface AppOwnership {
  /** Reads the app's owners and the caller's own token. Read-only. Throws `notFound`, `forbidden`. */
  callerAccess(appId: string, options?: CallOptions): Promise<AppAccess>;
}

// ---------------------------------------------------------------------------------------------------------------
// Entra's sign-in log (prune: evidence that a key nobody should use is really unused)
// ---------------------------------------------------------------------------------------------------------------

/** What the service-principal sign-in log says of one key since a moment. */
export type KeySignIns =
  /** The log was read: the newest sign-in with the key since then (ISO-8601 UTC), or none. */
  | { readable: true; lastSignIn?: string }
  /** The log cannot be read here (no permission, no licence, too many entries): why, in one line. */
  | { readable: false; reason: string };

/** Entra's service-principal sign-in log. */
export interface SignInLog {
  /**
   * The app's service-principal sign-ins with key credential `key` (by keyId or thumbprint) since `since`. Read-only.
   * Resolves `readable: false` when certrotate's identity may not read the log; throws on other failures.
   */
  lastSignInWithKey(
    appId: string,
    key: { keyId: string; thumbprint: string },
    since: string,
    options?: CallOptions,
  ): Promise<KeySignIns>;
}

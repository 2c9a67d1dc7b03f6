/**
 * The rotation machine's types: input, context, events, each step's input and output, and the result.
 * JSON only, secret-free (I4): ids, thumbprints, times, counters and plain-JSON errors.
 */
import type {
  AppAccess,
  AppRegistration,
  CertificatePolicySpec,
  CertificateVersion,
  CreateOperationState,
  KeyRef,
  PendingCreate,
  PortError,
} from '../adapters/ports.js';
import type { StepName } from './steps.js';

/** power-pages: how long `resume` (or a guided run) waits for the platform's new key when `resumeTimeout` is unset. */
export const DEFAULT_RESUME_TIMEOUT_MS = 30 * 60_000;

/** The two kinds of target (DESIGN §1). */
export type TargetKind = 'keyvault' | 'power-pages';

/** How transient errors are retried. */
export interface RetryPolicy {
  /** Attempts per step before a retryable error is treated as fatal (verification uses its deadline instead). */
  maxAttempts: number;
  /** First backoff, doubled per attempt. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What starts a run. Persisted with the snapshot, so: JSON, no secrets, no adapters. */
export interface RotationInput {
  runId: string;
  /** The target's name in the config. */
  target: string;
  kind: TargetKind;
  appId: string;
  /** `keyvault` targets: the certificate to add a version to and the policy of the new version. */
  keyVault?: { certificate: string; policy: CertificatePolicySpec };
  /** `power-pages` targets. */
  site?: { environmentId: string; websiteId: string };
  /**
   * power-pages: how long one invocation waits for the admin center's Update key (and the site's restart) before it
   * parks again (`resumeTimeout`, default {@link DEFAULT_RESUME_TIMEOUT_MS}).
   */
  resumeTimeoutMs?: number;
  /** Verification: the Dataverse environment whose WhoAmI the new key's token must pass. */
  dataverseUrl?: string;
  /** Rotate when the key in use expires within this many ms (`rotateBefore`). */
  rotateBeforeMs: number;
  /** How long verification keeps trying while Entra propagates the new key (`verifyTimeout`). */
  verifyTimeoutMs: number;
  /** Grace period between verification and retirement of the old key (`retireAfter`); 0 retires at once. */
  retireAfterMs: number;
  /** Rotate even when the key is not due. */
  force?: boolean;
  retry?: Partial<RetryPolicy>;
}

/** Names of the steps, as they appear in `steps[]` and the journal (the step catalogue, steps.ts, describes each). */
export type { StepName } from './steps.js';

/** A record of the DESIGN §5 rotate JSON. Times are ISO-8601 UTC. */
export interface StepRecord {
  name: StepName;
  status: 'running' | 'succeeded' | 'skipped' | 'retrying' | 'failed' | 'declined' | 'parked';
  startedAt: string;
  endedAt?: string;
  attempts: number;
  detail?: string;
}

/** The key the server uses when the run starts: the one that must stay registered until the new one is in use. */
export interface CurrentKey {
  thumbprint: string;
  /** The app's key credential for it. */
  keyId: string;
  /** ISO-8601 UTC end of the key credential. */
  expiresOn: string;
  /** The Key Vault version holding it, when the vault has it (keyvault targets). */
  version?: string;
  secretId?: string;
}

/** The new key of this run. */
export interface NewKey {
  version?: string;
  thumbprint: string;
  secretId?: string;
  expiresOn?: string;
  /** ISO-8601 UTC start of the certificate's validity: with the run id, the fencing token servers compare. */
  notBefore?: string;
}

/**
 * What a run started from, recorded at preflight and observed again before every mutating step (I7): when the world
 * has since contradicted one of these, the run ends `superseded` instead of acting on stale facts.
 */
export interface Premises {
  /** The key in service at preflight, and its credential on the app. */
  oldThumbprint: string;
  oldKeyId: string;
  /** The key the server reported at preflight; absent when it cannot tell (a `manual` server). */
  serverThumbprint?: string;
  /** The vault's newest version at preflight (keyvault targets with versions). */
  latestVersion?: { version: string; createdOn: string };
  /** The app's key credentials at preflight. */
  keyIds: string[];
}

export type RotationOutcome =
  | 'succeeded'
  | 'noChange'
  | 'rolledBack'
  | 'failed'
  | 'awaitingOperator'
  | 'awaitingRetirement'
  /** The world moved on under the run (another run rotated the target): it stopped and withdrew its own additions. */
  | 'superseded'
  /** `abandon RUN_ID`: closed by an operator before it changed anything. */
  | 'abandoned';

/** Why a run is parked in `awaitingOperator`. */
export type ParkReason =
  | 'declined'
  | 'manualInstall'
  | 'manualRestore'
  | 'platformKeyUpdate'
  | 'retireFailed'
  /** power-pages: the platform's new key is on the app, but the site did not answer healthy in time. */
  | 'siteUnhealthy'
  /**
   * Verification (or the wait for Entra to accept the new key) could not reach Entra, Dataverse or the server until
   * `verifyTimeout` ran out: an outage, not a rejection, so nothing is undone and `resume` verifies again.
   */
  | 'serviceUnavailable';

/** The states a parked run continues in on RESUME. */
export type ResumeTarget =
  | 'generating'
  | 'attaching'
  /** The wait for Entra to accept the new key (already attached), behind no gate: it changes nothing. */
  | 'attaching.propagating'
  | 'installing'
  | 'detectingPlatformKey'
  | 'verifying'
  | 'retiring'
  | 'rollingBack';

export interface ParkInfo {
  reason: ParkReason;
  /** What the operator must do, in one or two sentences. */
  message: string;
  resumeTo: ResumeTarget;
}

export interface FailureInfo {
  step: StepName;
  error: PortError;
  /** What went wrong and what to do, for a person. */
  message: string;
}

/** A power-pages site as preflight saw it: what the operator's instructions name. */
export interface SiteFacts {
  name: string;
  environmentName?: string;
  url?: string;
  status: string;
  healthy: boolean;
  /** Where the facts came from: the Power Platform API, or the configuration when certrotate may not read it. */
  source: 'api' | 'config';
}

/** A key credential of the app, public facts only: what the retirement diff shows. */
export interface KeySummary {
  keyId: string;
  thumbprint: string;
  /** ISO-8601 UTC. */
  endDateTime: string;
}

/** The machine's context. Everything here is persisted. */
export interface RotationContext {
  settings: RotationInput;
  steps: StepRecord[];
  /** Set by preflight. */
  current?: CurrentKey;
  /** Set by preflight (keyvault): what every mutating step checks the world against before it acts (I7). */
  premises?: Premises;
  serverManual: boolean;
  /** Key credentials present at preflight (power-pages detects the platform's new key against them). */
  observedKeyIds: string[];
  /** power-pages: the site at preflight. */
  site?: SiteFacts;
  /** power-pages: the app's certificate credentials when the new key was found (the retirement diff's "before"). */
  keySet?: KeySummary[];
  /** power-pages: epoch ms until which this invocation waits for the platform's new key before parking again. */
  waitDeadline?: number;
  oldThumbprint?: string;
  newThumbprint?: string;
  newKey?: NewKey;
  /** The pending Key Vault create, persisted so a resumed run polls it instead of creating again. */
  operation?: CreateOperationState;
  newKeyId?: string;
  /** How the new key was attached (`addKey`, `patch`, `alreadyAttached`, `platform`). */
  attachMethod?: string;
  /** What has changed in the world, so rollback knows what to undo. */
  progress: { generated: boolean; attached: boolean; installed: boolean };
  /** Attempts of the active step (1-based). */
  attempt: number;
  /** Epoch ms the backoff sleep waits for; stored before entering the wait (restored runs sleep only what is left). */
  retryAt?: number;
  lastError?: PortError;
  verifyDeadline?: number;
  verifiedAt?: number;
  retireAt?: number;
  park?: ParkInfo;
  /** The operator resumed a parked manual step: trust them that the server now uses the key asked for. */
  operatorConfirmed: boolean;
  outcome?: RotationOutcome;
  failure?: FailureInfo;
  /** Why the run ended without change, or other notes for the result. */
  note?: string;
}

/** Events the machine accepts from its driver. */
export type RotationEvent =
  /** Guided mode: go ahead with the mutating step the machine waits before. */
  | { type: 'CONFIRM' }
  /** Guided mode: the operator said no; the run parks. */
  | { type: 'DECLINE'; reason?: string; now?: number }
  /** Continue a parked run. `now` (epoch ms) lets the pure machine decide whether a grace period is over. */
  | { type: 'RESUME'; now: number }
  /** `rollback RUN_ID`: from a parked state, undo what the run did. */
  | { type: 'ROLLBACK' }
  /** `abandon RUN_ID`: close a run that changed nothing (refused by the machine otherwise). */
  | { type: 'ABANDON' };

// ---- Step actors: what each receives and returns ----------------------------------------------------------------

/** What every step actor resolves with: its result and when it ran (the clock is the ports', not the machine's). */
export interface StepDone<T> {
  result: T;
  startedAt: number;
  endedAt: number;
}

/** What every step actor rejects with: a plain-JSON error and when. */
export interface StepFailed {
  error: PortError;
  startedAt: number;
  endedAt: number;
}

/** What preflight observed: everything plan and the machine decide from. */
export interface TargetObservation {
  /** Epoch ms of the observation. */
  now: number;
  app: AppRegistration;
  /** Key Vault versions of the target's certificate, oldest first; empty for power-pages. */
  versions: CertificateVersion[];
  pending?: PendingCreate;
  server: { manual: boolean; thumbprint?: string };
  site?: {
    status: string;
    healthy: boolean;
    name?: string;
    environmentName?: string;
    url?: string;
    source?: 'api' | 'config';
  };
  /**
   * power-pages: whether certrotate's identity may PATCH the app's key credentials (owner, or a directory-wide write
   * permission), which the retire step needs. Absent when it could not be determined.
   */
  ownership?: AppAccess;
}

export interface ObserveInput {
  runId: string;
  kind: TargetKind;
  appId: string;
  certificate?: string;
  site?: { environmentId: string; websiteId: string };
}

export interface GenerateInput {
  runId: string;
  certificate: string;
  policy: CertificatePolicySpec;
  /** The operation this run started, when the snapshot has it. */
  operation?: CreateOperationState;
  /** What preflight saw; absent only for a caller that checks no premises (the vault is not re-checked then). */
  premises?: Premises;
}
export type GenerateResult =
  | { status: 'ready'; key: NewKey; reused: boolean }
  | { status: 'pending'; operation: CreateOperationState; reused: boolean };

export interface AwaitCertificateInput {
  runId: string;
  operation: CreateOperationState;
}
export interface AwaitCertificateResult {
  key: NewKey;
}

export interface AttachInput {
  /** The run: the new key credential's `displayName` names it (world-markers.ts). */
  runId: string;
  appId: string;
  newKey: KeyRef;
  /** What preflight saw; absent only for a caller that checks no premises. */
  premises?: Premises;
  /** The current key, to sign the addKey proof; absent when no current key can sign (PATCH fallback). */
  proofKey?: KeyRef;
  /** 1-based attempt; above 1 the previous attempt may have attached the key without our seeing it. */
  attempt: number;
}
export interface AttachResult {
  keyId: string;
  method: 'addKey' | 'patch' | 'alreadyAttached';
}

export interface PropagationInput {
  appId: string;
  newKey: KeyRef;
  dataverseUrl?: string;
}
export interface PropagationResult {
  tokenExpiresOn: string;
}

export interface InstallInput {
  /** The run, sent with the key as the fencing token's second half. */
  runId: string;
  /** Where the world markers are read when a premise fails (to name who). */
  appId: string;
  certificate?: string;
  newKey: KeyRef;
  operatorConfirmed: boolean;
  /** What preflight saw; absent only for a caller that checks no premises. */
  premises?: Premises;
}
export interface InstallResult {
  status: 'installed' | 'alreadyInstalled' | 'manual' | 'operatorConfirmed';
}

export interface DetectPlatformKeyInput {
  appId: string;
  observedKeyIds: string[];
  oldThumbprint?: string;
  /** The old key's end: the platform's new key lasts longer. */
  oldExpiresOn?: string;
}
export type DetectPlatformKeyResult =
  | { status: 'found'; keyId: string; thumbprint: string; expiresOn: string; keySet: KeySummary[] }
  | { status: 'notYet' };

export interface VerifyInput {
  kind: TargetKind;
  appId: string;
  newKey: KeyRef;
  dataverseUrl?: string;
  site?: { environmentId: string; websiteId: string };
}
export interface VerifyResult {
  tokenExpiresOn?: string;
  /** The Dataverse application user the token maps to. */
  userId?: string;
  siteHealthy?: boolean;
  /** power-pages: healthy answers in a row. */
  siteChecks?: number;
}

export interface RetireInput {
  kind: TargetKind;
  /** What preflight saw (keyvault); absent for power-pages, whose retire step makes its own checks. */
  premises?: Premises;
  appId: string;
  oldKeyId: string;
  oldThumbprint: string;
  /** The new key signs the removeKey proof (I2: it has produced a token). Absent for power-pages (PATCH). */
  newKey?: KeyRef;
  certificate?: string;
  oldVersion?: string;
  /** power-pages: the platform's new key, which must stay (and be valid) for the old one to go. */
  newKeyId?: string;
  /** power-pages: the site, healthy before the old key goes. */
  site?: { environmentId: string; websiteId: string };
}
export interface RetireResult {
  keyRemoved: 'removed' | 'alreadyGone';
  method?: 'removeKey' | 'patch';
  versionDisabled: 'disabled' | 'alreadyDisabled' | 'none';
  /** power-pages: thumbprints the PATCH removed and kept (checked on a read after the write). */
  diff?: { removed: string[]; kept: string[] };
}

export interface RollbackInput {
  /** The run, sent with the restored key. */
  runId: string;
  appId: string;
  /** What preflight saw; absent only for a caller that checks no premises. */
  premises?: Premises;
  oldKey: KeyRef;
  newKey?: KeyRef;
  newKeyId?: string;
  certificate?: string;
  newVersion?: string;
  serverManual: boolean;
  /** The new key may be on the server (an install ran, or an operator said they installed it). */
  installed: boolean;
  operatorConfirmed: boolean;
}
export interface RollbackResult {
  status: 'rolledBack' | 'needsOperator';
  serverRestored: 'restored' | 'alreadyOld' | 'manual' | 'operatorConfirmed';
  keyRemoved: 'removed' | 'alreadyGone' | 'none';
  versionDisabled: 'disabled' | 'alreadyDisabled' | 'none';
}

/** What a superseded run withdraws: only what it added itself, and only what is provably unused. */
export interface WithdrawInput {
  runId: string;
  appId: string;
  /** The run's new key, when it got one. */
  newKey?: KeyRef;
  newKeyId?: string;
  certificate?: string;
  newVersion?: string;
  /** The run's own create, when it was still pending as the run was superseded: waited for, then withdrawn. */
  operation?: CreateOperationState;
  /** The key in service at preflight: it signs the removeKey proof while it is still a valid credential. */
  oldKey?: KeyRef;
  serverManual: boolean;
  /** A person may have put the new key on a `manual` server: then nothing can show it unused, and it stays. */
  mayBeInstalled: boolean;
}
export interface WithdrawResult {
  keyRemoved: 'removed' | 'alreadyGone' | 'none' | 'inUse' | 'mayBeInUse';
  versionDisabled: 'disabled' | 'alreadyDisabled' | 'none' | 'inUse' | 'mayBeInUse';
}

export interface SleepInput {
  /** Epoch ms to sleep until. */
  until: number;
}

/** What a run produces: the DESIGN §5 rotate document without runId/target envelope fields. */
export interface RotationOutput {
  outcome: RotationOutcome;
  oldThumbprint: string | null;
  newThumbprint: string | null;
  steps: StepRecord[];
  park?: ParkInfo;
  failure?: FailureInfo;
  note?: string;
}

/**
 * What every certificate credential of a keyvault target's app is, judged from the world and not from one state
 * directory (I8): the key the server uses, another run's key still in flight, the key a live run rotates away from,
 * an orphan nobody will retire, an expired key, or a credential certrotate never signs in with. The inputs are the
 * app's credentials, the vault's versions, the key the server reports, the world markers (world-markers.ts) and
 * whatever the local state store knows of the runs those markers name. Pure: the clock comes in as `now`.
 *
 * The rule (README, "Credential roles"):
 * - `inUse`: the key the server reports (else, a manual server, the key preflight takes as in service).
 * - `inFlight`: valid, not in use, added by a run that is still live, newer than the key in use, and the newest such:
 *   the next key of a rotation that has not finished. A run is live when the local store holds it unfinished (or
 *   cannot read it), when it holds the target's lock, or — no local record — when it started less than
 *   `staleRunAfterMs` ago (another agent, with its own state directory, may still be driving it).
 * - `previous`: valid, not in use, the key a live run rotates away from (its rollback key): the old key its local
 *   record names, or, when the key in use was added by a live run, the newest older valid key.
 * - `orphaned`: every other valid key: older keys of finished or stale runs, keys of runs that lost to a newer one,
 *   and unmarked keys the server does not use.
 * - `expired`: past its end; Entra refuses it, so it is reported but never judged.
 * - `foreign`: a credential certrotate does not judge: not a certificate Entra verifies sign-ins with (e.g. a SAML
 *   token-signing key), or one whose validity has not begun (someone's staged key). Never pruned.
 *
 * Key Vault versions no credential of the app holds are judged too (`orphanVersions`): an enabled, unexpired version
 * tagged with a run that is not live, whose key is not the one in service, while no credential of the app holds its
 * key or carries that run's marker, is orphaned. That is the version of a create that completed after its run ended
 * (a run that stopped, failed or was superseded while Key Vault still issued its key; an agent lost with a create
 * pending): nothing will ever attach it, and it stays enabled until `prune` disables it. A version of a live run is
 * left alone (the run may attach it next), and so is one certrotate did not make (no tag).
 */
import type { CertificateVersion, KeyCredential } from '../adapters/ports.js';
import { credentialValidAt, isCertificateCredential } from './rotation-policies.js';
import { runIdOfCredential, runIdOfVersion } from './world-markers.js';

/** How long a run with no local record counts as live after it started (`defaults.staleRunAfter`): a day. */
export const DEFAULT_STALE_RUN_AFTER_MS = 24 * 3_600_000;

/** What one credential is to the target (see the module comment for the rule). */
export type CredentialRole = 'inUse' | 'inFlight' | 'previous' | 'orphaned' | 'expired' | 'foreign';

/** What the local state store knows of one run. */
export interface KnownRun {
  runId: string;
  /** True once the run reached a final outcome; false while unfinished, parked, or unreadable (corrupt). */
  finished: boolean;
  /** The key the run rotates away from, when its snapshot says. */
  oldThumbprint?: string;
  /** ISO-8601 UTC of the run's last recorded change. */
  updatedAt?: string;
}

/** Why a marked credential's run counts as live or not. */
export type RunLiveness =
  /** The local store holds the run unfinished, parked or unreadable. */
  | 'unfinished'
  /** The run holds the target's lock. */
  | 'lockHeld'
  /** No local record, and the run started less than the staleness bound ago. */
  | 'recent'
  /** The local store holds the run finished. */
  | 'finished'
  /** No local record, and the run started longer ago than the staleness bound. */
  | 'stale';

/** What {@link credentialInventory} reads. */
export interface InventoryInput {
  /** Epoch ms. */
  now: number;
  /** Every key credential of the app. */
  credentials: readonly KeyCredential[];
  /** The target certificate's vault versions (their run tags mark certrotate's keys too). */
  versions: readonly CertificateVersion[];
  /** The key in service: the server's report, or (a manual server) the key preflight selected. */
  inUseThumbprint?: string;
  /** The runs the local state store knows. */
  runs: readonly KnownRun[];
  /** The run holding the target's lock, if any. */
  lockHolderRunId?: string;
  /** A run with no local record is live for this long after it started. */
  staleRunAfterMs: number;
}

/** One credential, classified. */
export interface InventoryEntry {
  keyId: string;
  /** Uppercase hex SHA-1. */
  thumbprint: string;
  /** ISO-8601 UTC. */
  startDateTime: string;
  expiresOn: string;
  /** The run that added it (the credential's `displayName`, else its vault version's tag); null: not certrotate's. */
  runId: string | null;
  /** Whether that run counts as live, when there is a run. */
  liveness?: RunLiveness;
  /** The vault version holding this key, when the target's certificate has it. */
  version?: string;
  /** Whether that version is enabled. */
  versionEnabled?: boolean;
  role: CredentialRole;
  /** Why it has that role, in one line. */
  why: string;
}

/** A run whose additions are still in flight on the target: rotate refuses to start beside it. */
export interface InFlightRun {
  runId: string;
  thumbprint: string;
  liveness: RunLiveness;
  /** ISO-8601 UTC when the run started (from its id, else its key's start). */
  startedAt: string;
  /** ISO-8601 UTC when a run with no local record stops counting as live; absent when the record decides. */
  staleAt?: string;
}

/** An enabled Key Vault version certrotate made that no credential of the app holds, and no live run will attach. */
export interface OrphanVersion {
  version: string;
  /** Uppercase hex SHA-1. */
  thumbprint: string;
  /** ISO-8601 UTC. */
  createdOn: string;
  expiresOn: string;
  /** The run its tag names. */
  runId: string;
  /** Why that run does not count as live (`finished` or `stale`). */
  liveness: RunLiveness;
  /** Whether the version was made after the local record of its run ended (unknown without a record). */
  createdAfterRunEnded: boolean;
  /** Why it is an orphan, in one line. */
  why: string;
}

/** The classification of every credential of one app. */
export interface CredentialInventory {
  entries: InventoryEntry[];
  /** Another run's unfinished rotation of this target, if any. */
  inFlight?: InFlightRun;
  /** The entries with role `orphaned`. */
  orphans: InventoryEntry[];
  /** certrotate's enabled versions on no credential of the app whose run is over (see the module comment). */
  orphanVersions: OrphanVersion[];
}

const sameThumbprint = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.toUpperCase() === b.toUpperCase();

/** The start time a run id carries (`20261201T120000Z-…`, as `newRunId` makes them), or undefined. */
export function runStartedAt(runId: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(runId);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** When a run started: from its id, else from the key it added. */
function startOf(runId: string, credential: KeyCredential): number {
  return runStartedAt(runId) ?? Date.parse(credential.startDateTime);
}

/** Whether run `runId` (which added `credential`) is live, by the local record, the lock and the staleness bound. */
export function runLiveness(runId: string, credential: KeyCredential, input: InventoryInput): RunLiveness {
  return livenessFrom(runId, startOf(runId, credential), input);
}

/** {@link runLiveness} for a run known by a version only: it started no later than its version was made. */
function versionRunLiveness(runId: string, version: CertificateVersion, input: InventoryInput): RunLiveness {
  return livenessFrom(runId, runStartedAt(runId) ?? Date.parse(version.createdOn), input);
}

function livenessFrom(runId: string, startedAt: number, input: InventoryInput): RunLiveness {
  const known = input.runs.find((r) => r.runId === runId);
  if (known && !known.finished) return 'unfinished';
  if (input.lockHolderRunId === runId) return 'lockHeld';
  if (known) return 'finished';
  return input.now - startedAt < input.staleRunAfterMs ? 'recent' : 'stale';
}

const isLive = (l: RunLiveness | undefined) => l === 'unfinished' || l === 'lockHeld' || l === 'recent';

const LIVENESS_TEXT: Record<RunLiveness, string> = {
  unfinished: 'unfinished in the local state',
  lockHeld: 'holding the target lock',
  recent: 'no local record, started within the staleness bound',
  finished: 'finished',
  stale: 'no local record, older than the staleness bound',
};

/** Classifies every key credential of the app (the rule is in the module comment). */
export function credentialInventory(input: InventoryInput): CredentialInventory {
  const versionOf = (thumbprint: string) =>
    [...input.versions].reverse().find((v) => sameThumbprint(v.thumbprint, thumbprint));
  const base = input.credentials.map((c) => {
    const version = versionOf(c.thumbprint);
    const runId = runIdOfCredential(c.displayName) ?? runIdOfVersion(version?.tags) ?? null;
    return {
      credential: c,
      runId,
      liveness: runId ? runLiveness(runId, c, input) : undefined,
      version,
    };
  });
  const start = (c: KeyCredential) => Date.parse(c.startDateTime);
  const inUse = base.find((b) => sameThumbprint(b.credential.thumbprint, input.inUseThumbprint));
  const valid = (c: KeyCredential) => isCertificateCredential(c) && credentialValidAt(c, input.now);
  const candidates = base.filter((b) => b !== inUse && valid(b.credential));

  // The newest key of a live run that is newer than the key in use: the next key of an unfinished rotation.
  const inFlightEntry = candidates
    .filter((b) => isLive(b.liveness) && (!inUse || start(b.credential) > start(inUse.credential)))
    .sort((a, b) => start(b.credential) - start(a.credential))[0];
  // A live run whose key is already in use has not retired its old key yet: that key is its rollback key.
  const inUseRunLive = inUse !== undefined && isLive(inUse.liveness);
  const previousOfLiveInUse = inUseRunLive
    ? candidates
        .filter((b) => b !== inFlightEntry && start(b.credential) < start(inUse.credential))
        .sort((a, b) => start(b.credential) - start(a.credential))[0]
    : undefined;
  const namedOld = new Set(
    input.runs
      .filter((r) => !r.finished && r.oldThumbprint)
      .map((r) => r.oldThumbprint!.toUpperCase())
      .filter((t) => !sameThumbprint(t, input.inUseThumbprint)),
  );

  const entries: InventoryEntry[] = base.map((b) => {
    const c = b.credential;
    const marker = b.runId ? `run ${b.runId} (${LIVENESS_TEXT[b.liveness!]})` : 'no certrotate marker';
    const classified = (role: CredentialRole, why: string): InventoryEntry => ({
      keyId: c.keyId,
      thumbprint: c.thumbprint.toUpperCase(),
      startDateTime: c.startDateTime,
      expiresOn: c.endDateTime,
      runId: b.runId,
      ...(b.liveness ? { liveness: b.liveness } : {}),
      ...(b.version ? { version: b.version.version, versionEnabled: b.version.enabled } : {}),
      role,
      why,
    });
    if (!isCertificateCredential(c)) return classified('foreign', `not a certificate Entra verifies sign-ins with`);
    if (Date.parse(c.endDateTime) <= input.now) return classified('expired', `expired ${c.endDateTime}`);
    if (b === inUse) return classified('inUse', `the key in service; ${marker}`);
    if (!credentialValidAt(c, input.now)) return classified('foreign', `not valid until ${c.startDateTime}`);
    if (b === inFlightEntry) return classified('inFlight', `next key of ${marker}, newer than the key in use`);
    if (namedOld.has(c.thumbprint.toUpperCase())) {
      return classified('previous', `the key an unfinished local run rotates away from; ${marker}`);
    }
    if (b === previousOfLiveInUse) {
      return classified('previous', `the newest key before the one in use, whose run is live: its rollback key`);
    }
    const reason = !b.runId
      ? 'valid, not in use, added by no certrotate run'
      : isLive(b.liveness)
        ? `valid, not in use, and older than a newer key (${marker})`
        : `valid, not in use, ${marker}`;
    return classified('orphaned', reason);
  });

  let inFlight: InFlightRun | undefined;
  const inFlightSource = inFlightEntry ?? (inUseRunLive ? inUse : undefined);
  if (inFlightSource?.runId && inFlightSource.liveness) {
    const started = startOf(inFlightSource.runId, inFlightSource.credential);
    inFlight = {
      runId: inFlightSource.runId,
      thumbprint: inFlightSource.credential.thumbprint.toUpperCase(),
      liveness: inFlightSource.liveness,
      startedAt: new Date(started).toISOString(),
      ...(inFlightSource.liveness === 'recent'
        ? { staleAt: new Date(started + input.staleRunAfterMs).toISOString() }
        : {}),
    };
  }
  return {
    entries,
    ...(inFlight ? { inFlight } : {}),
    orphans: entries.filter((e) => e.role === 'orphaned'),
    orphanVersions: orphanVersionsOf(input),
  };
}

/** Why version `v` is not an orphan, or undefined when it is one (the rule in the module comment). */
function notAnOrphanVersion(v: CertificateVersion, input: InventoryInput): string | undefined {
  const runId = runIdOfVersion(v.tags);
  if (!runId) return 'certrotate did not make it (no run tag)';
  if (!v.enabled) return 'it is disabled';
  if (Date.parse(v.expiresOn) <= input.now) return `it expired ${v.expiresOn}`;
  if (sameThumbprint(v.thumbprint, input.inUseThumbprint)) return 'its key is the one in service';
  if (input.credentials.some((c) => sameThumbprint(c.thumbprint, v.thumbprint))) return 'the app holds its key';
  if (input.credentials.some((c) => runIdOfCredential(c.displayName) === runId)) {
    return `the app holds a key of its run ${runId}`;
  }
  const liveness = versionRunLiveness(runId, v, input);
  if (isLive(liveness)) return `its run ${runId} is live (${LIVENESS_TEXT[liveness]})`;
  return undefined;
}

/** The enabled versions certrotate made that no credential holds and no live run will attach. */
function orphanVersionsOf(input: InventoryInput): OrphanVersion[] {
  return input.versions
    .filter((v) => notAnOrphanVersion(v, input) === undefined)
    .map((v) => {
      const runId = runIdOfVersion(v.tags)!;
      const liveness = versionRunLiveness(runId, v, input);
      const ended = input.runs.find((r) => r.runId === runId)?.updatedAt;
      const createdAfterRunEnded = ended !== undefined && Date.parse(v.createdOn) > Date.parse(ended);
      const why = createdAfterRunEnded
        ? `created after its run ended (run ${runId} last recorded ${ended}, the version ${v.createdOn}); ` +
          'enabled, and on no credential of the app'
        : `enabled, on no credential of the app, and its run ${runId} is not live (${LIVENESS_TEXT[liveness]}): ` +
          'created after its run ended, or left unattached by it';
      return {
        version: v.version,
        thumbprint: v.thumbprint.toUpperCase(),
        createdOn: v.createdOn,
        expiresOn: v.expiresOn,
        runId,
        liveness,
        createdAfterRunEnded,
        why,
      };
    });
}

/**
 * The premise `prune` re-checks from a fresh observation right before it disables an orphaned version: the version
 * still exists and still is an orphan (enabled, tagged with a run that is not live, on no credential of the app, not
 * the key in service). Returns why it no longer holds, or undefined when it does. Pure.
 */
export function orphanVersionPremise(input: InventoryInput, version: string): string | undefined {
  const v = input.versions.find((x) => x.version === version);
  if (!v) return 'the version is gone';
  return notAnOrphanVersion(v, input);
}

/**
 * From when a sign-in with an orphan would show that something still uses it: not before the key in use began (the
 * server cannot have moved to it earlier), and not before the orphan's own run stopped (its verification signed in
 * with the key itself): a finished run's last record, a stale run's start plus the staleness bound.
 */
export function signInWindowStart(
  entry: InventoryEntry,
  inventory: CredentialInventory,
  input: Pick<InventoryInput, 'runs' | 'staleRunAfterMs'>,
): string {
  const inUse = inventory.entries.find((e) => e.role === 'inUse');
  const times = [inUse ? Date.parse(inUse.startDateTime) : Date.parse(entry.startDateTime)];
  if (entry.runId) {
    const known = input.runs.find((r) => r.runId === entry.runId);
    if (known?.updatedAt) times.push(Date.parse(known.updatedAt));
    else times.push((runStartedAt(entry.runId) ?? Date.parse(entry.startDateTime)) + input.staleRunAfterMs);
  }
  return new Date(Math.max(...times.filter((t) => !Number.isNaN(t)))).toISOString();
}

/** The sentence rotate, plan and scan give for a target with another run's rotation in flight, with what to do. */
export function inFlightMessage(target: string, run: InFlightRun): string {
  const where =
    run.liveness === 'recent'
      ? `it has no record in this state directory (another agent or state directory may be driving it; started ` +
        `${run.startedAt}): continue it where it runs with \`certrotate resume ${run.runId}\`; if that agent is ` +
        `gone, it counts as stale from ${run.staleAt} and \`certrotate prune ${target}\` then retires what it left`
      : run.liveness === 'lockHeld'
        ? `it holds the target's lock: wait for it`
        : `continue it with \`certrotate resume ${run.runId}\``;
  return `target "${target}" has key ${run.thumbprint} of run ${run.runId}, which has not finished; ${where}`;
}

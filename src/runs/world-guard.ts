/**
 * The world guard: before a rotation starts, the tenant is asked whether another run's rotation of the target is
 * still in flight — whatever the local state directory holds (issue 16: an agent whose state was lost, another
 * operator's laptop). Also the one place scan, plan, rotate and prune read a target's credential inventory from:
 * the app's credentials, the vault's versions, the server's key, and what the state store knows of the runs the
 * world markers name. Reads only.
 */
import type { CertificateVersion, Clock, KeyCredential, RunStore, RunSummary, TargetLock } from '../adapters/ports.js';
import { toPortError } from '../adapters/ports.js';
import type { RotationPorts } from '../adapters/rotation-ports.js';
import { CORRUPT, UNKNOWN_TARGET } from '../adapters/state/run-format.js';
import {
  credentialInventory,
  DEFAULT_STALE_RUN_AFTER_MS,
  inFlightMessage,
  type CredentialInventory,
  type InventoryInput,
  type KnownRun,
} from '../machines/credential-inventory.js';
import type { RotationInput } from '../machines/rotation-types.js';
import { describeRun } from './run-view.js';

/** Outcomes of a run that stopped without ending (parked): it still owns what it added. */
const PARKED = new Set(['awaitingOperator', 'awaitingRetirement']);

/** What the local state store knows of `target`'s runs (a corrupt run of an unknown target counts as unfinished). */
export async function knownRuns(
  store: RunStore,
  target: string,
  listed: Promise<RunSummary[]> = store.listRuns(),
): Promise<KnownRun[]> {
  const runs = (await listed).filter((r) => r.target === target || r.target === UNKNOWN_TARGET);
  const known: KnownRun[] = [];
  for (const r of runs) {
    const finished = r.outcome !== null && r.outcome !== CORRUPT && !PARKED.has(r.outcome);
    let oldThumbprint: string | undefined;
    if (!finished && r.outcome !== CORRUPT) {
      // The unfinished run's old key is its rollback key: never an orphan while the run may still need it.
      const envelope = await store.loadSnapshot(r.runId).catch(() => undefined);
      oldThumbprint = envelope ? (describeRun(envelope).oldThumbprint ?? undefined) : undefined;
    }
    known.push({ runId: r.runId, finished, updatedAt: r.updatedAt, ...(oldThumbprint ? { oldThumbprint } : {}) });
  }
  return known;
}

/** What a target's inventory is read through. */
export interface InventorySources {
  store: RunStore;
  lock: TargetLock;
  /** `defaults.staleRunAfter`; default {@link DEFAULT_STALE_RUN_AFTER_MS}. */
  staleRunAfterMs?: number;
  /** The store's run list, read once for every target of one command (scan); read per call when absent. */
  listed?: Promise<RunSummary[]>;
}

/** The world as read for one inventory, kept so a caller can explain and re-check it. */
export interface ObservedInventory {
  inventory: CredentialInventory;
  input: InventoryInput;
  /** The key the server reported; undefined for a manual server. */
  serverThumbprint?: string;
}

/**
 * Classifies a keyvault target's credentials from what was already observed (`credentials`, `versions`, the key in
 * service) plus the state store's runs and the target's lock.
 */
export async function inventoryFrom(
  sources: InventorySources,
  target: string,
  world: {
    now: number;
    credentials: readonly KeyCredential[];
    versions: readonly CertificateVersion[];
    inUseThumbprint?: string;
  },
): Promise<{ inventory: CredentialInventory; input: InventoryInput }> {
  const [runs, holder] = await Promise.all([
    knownRuns(sources.store, target, sources.listed),
    sources.lock.holder(target),
  ]);
  const input: InventoryInput = {
    now: world.now,
    credentials: world.credentials,
    versions: world.versions,
    ...(world.inUseThumbprint ? { inUseThumbprint: world.inUseThumbprint } : {}),
    runs,
    ...(holder ? { lockHolderRunId: holder.runId } : {}),
    staleRunAfterMs: sources.staleRunAfterMs ?? DEFAULT_STALE_RUN_AFTER_MS,
  };
  return { inventory: credentialInventory(input), input };
}

/** Retries a read on a retryable error (503, 429, a timeout) a few times, as the machine's own steps would. */
async function read<T>(clock: Clock, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = toPortError(err);
      if (!e.retryable || attempt >= 4) throw err;
      await clock.sleep(Math.min(e.retryAfterMs ?? 1000 * 2 ** (attempt - 1), 10_000));
    }
  }
}

/** Reads a keyvault target's app, vault versions and server key, and classifies its credentials. */
export async function observeInventory(
  ports: Pick<RotationPorts, 'apps' | 'certificates' | 'server' | 'clock'>,
  sources: InventorySources,
  input: Pick<RotationInput, 'target' | 'appId' | 'keyVault'>,
  signal?: AbortSignal,
): Promise<ObservedInventory> {
  const options = signal ? { signal } : {};
  const app = await read(ports.clock, () => ports.apps.getApp(input.appId, options));
  const certificate = input.keyVault?.certificate;
  const versions = certificate
    ? await read(ports.clock, () => ports.certificates.listVersions(certificate, options))
    : [];
  const server =
    ports.server && !ports.server.manual ? await read(ports.clock, () => ports.server!.currentKey(options)) : {};
  const observed = await inventoryFrom(sources, input.target, {
    now: ports.clock.now(),
    credentials: app.keyCredentials,
    versions,
    ...(server.thumbprint ? { inUseThumbprint: server.thumbprint } : {}),
  });
  return { ...observed, ...(server.thumbprint ? { serverThumbprint: server.thumbprint.toUpperCase() } : {}) };
}

/** A rotation refused because another run's rotation of the target is in flight in the world (exit 4). */
export class RunInFlightError extends Error {
  // Named as the runner's busy error is, so the CLI maps it to exit 4 (the target is held by another run).
  override readonly name = 'TargetBusyError';
  constructor(
    message: string,
    readonly holderRunId: string,
  ) {
    super(message);
  }
}

/** What {@link assertNoRunInFlight} needs: the runner's dependencies (plus the staleness bound when configured). */
export interface WorldGuardDeps {
  store: RunStore;
  lock: TargetLock;
  ports: RotationPorts;
  clock: Clock;
  /** `defaults.staleRunAfter`, when the command knows it. */
  staleRunAfterMs?: number;
}

/**
 * Refuses to start a rotation of a keyvault target while the world shows another run's unfinished additions: a
 * key newer than the one in use from a live run, or a key in use whose run has not retired the old one (exit 4,
 * naming that run and what continues it). Called under the target's lock, after the local open-run guard.
 */
export async function assertNoRunInFlight(deps: WorldGuardDeps, input: RotationInput): Promise<void> {
  if (input.kind !== 'keyvault') return;
  const { inventory } = await observeInventory(
    { ...deps.ports, clock: deps.clock },
    {
      store: deps.store,
      lock: deps.lock,
      ...(deps.staleRunAfterMs !== undefined ? { staleRunAfterMs: deps.staleRunAfterMs } : {}),
    },
    input,
  );
  const other = inventory.inFlight;
  // The lock was just taken for this run; its own id never names another run's keys.
  if (other && other.runId !== input.runId) {
    throw new RunInFlightError(inFlightMessage(input.target, other), other.runId);
  }
}

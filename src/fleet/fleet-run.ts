/**
 * The fleet orchestration: one run per selected target, at most `concurrency` at once, each target's result kept
 * whatever happens to the others. Pure of I/O: how a target is judged due and how its run goes are injected, so the
 * bound, the selection and the exit code are tested with fakes (test/unit/fleet/).
 */
import pLimit from 'p-limit';
import { defaultBudgetFor, type Budget } from '../adapters/azure/limiter.js';
import { ExitCode } from '../exit-codes.js';
import type { RotationOutcome } from '../machines/rotation-types.js';

/**
 * How long one rotation is taken to hold its fleet slot when no budget makes it wait, in s: its own requests and
 * deliberate waits (create polls, consistency reads, webhook polls) come to ~10 s at 50 ms per request, and a fleet of
 * 200 on a busy 2-core machine held each slot 30–40 s (bench/README.md, fleet-rotation); Entra's propagation adds
 * seconds to minutes in a real tenant (fleet-state.md §7), where the cap binds anyway.
 */
export const ROTATION_SLOT_SECONDS = 30;

/** The most runs a fleet keeps in flight (`--concurrency` accepts 1 to 64). */
export const MAX_FLEET_CONCURRENCY = 64;

/** Graph writes one rotation spends of its app+tenant budget: addKey and removeKey. */
const GRAPH_WRITES_PER_ROTATION = 2;

/** A selected target as the concurrency default sees it: the vault whose create budget it spends (host), if any. */
export interface BudgetedTarget {
  vaultHost?: string;
}

const perSecond = (b: Budget): number => (b.rate ? (b.rate.requests * 1000) / b.rate.windowMs : Infinity);

/**
 * The default `--concurrency`, sized from the budgets by Little's law (fleet-state.md §7): runs in flight = the
 * rotations per second the budgets admit × how long one holds its slot ({@link ROTATION_SLOT_SECONDS}). Each keyvault
 * rotation makes one certificate create, so each vault admits its create budget's rate (20 per 10 s: 2/s); every
 * rotation makes two Graph writes of the one app+tenant budget (3,000 per 150 s: 10/s); targets without a vault are
 * bound by Graph alone. One vault: 2/s × 30 s = 60. More in flight would only queue at the budget; fewer would leave
 * it idle. At least 1, at most the selection and {@link MAX_FLEET_CONCURRENCY}.
 */
export function defaultFleetConcurrency(
  targets: readonly BudgetedTarget[],
  budgetFor: (key: string) => Budget = defaultBudgetFor,
): number {
  if (!targets.length) return 1;
  const graph = perSecond(budgetFor('graph-write-app')) / GRAPH_WRITES_PER_ROTATION;
  const vaults = new Set(targets.flatMap((t) => (t.vaultHost ? [t.vaultHost] : [])));
  const vaultRate = [...vaults].reduce((sum, host) => sum + perSecond(budgetFor(`keyvault-create|${host}`)), 0);
  const withoutVault = targets.some((t) => !t.vaultHost);
  const rate = Math.min(graph, vaultRate + (withoutVault ? graph : 0));
  const inFlight = Number.isFinite(rate) ? Math.ceil(rate * ROTATION_SLOT_SECONDS) : MAX_FLEET_CONCURRENCY;
  return Math.max(1, Math.min(inFlight, targets.length, MAX_FLEET_CONCURRENCY));
}

/**
 * What happened to one target: a run's outcome, or why no run ended — `notDue` (--due skipped it, no run made),
 * `blocked` (another run holds it: its lock, an open run, or a key in flight in the world), `error` (the run could
 * not start or stopped on an error), `interrupted` (Ctrl-C stopped it; resumable), `notStarted` (Ctrl-C came first).
 */
export type FleetOutcome = RotationOutcome | 'notDue' | 'blocked' | 'error' | 'interrupted' | 'notStarted';

/** Every outcome, in the order the counts list them. */
export const FLEET_OUTCOMES: readonly FleetOutcome[] = [
  'succeeded',
  'noChange',
  'notDue',
  'awaitingOperator',
  'awaitingRetirement',
  'failed',
  'rolledBack',
  'superseded',
  'abandoned',
  'blocked',
  'error',
  'interrupted',
  'notStarted',
];

/** Why a Power Pages run parked for the admin center, as the combined instruction list names the site. */
export interface SiteParkFacts {
  site: string;
  environment: string;
  currentThumbprint?: string;
  currentExpiresOn?: string;
}

/** One target's line of the fleet result. */
export interface FleetRunResult {
  target: string;
  /** Null when no run was made (not due, blocked before it started, not started). */
  runId: string | null;
  outcome: FleetOutcome;
  /** The exit code a single `rotate` of this target would have had (DESIGN §5). */
  exitCode: number;
  oldThumbprint?: string | null;
  newThumbprint?: string | null;
  /** The new key's expiry (ISO-8601), when the run made one. */
  newExpiresOn?: string | null;
  /** Why it parked, failed, was skipped or blocked. */
  message?: string;
  /** The command that continues it. */
  next?: string;
  /** Power Pages: parked for the admin center's Update key. */
  sitePark?: SiteParkFacts;
  /** The run's notification deliveries, when channels are configured (as single `rotate --json` lists them). */
  notifications?: { channel: string; event: string; status: 'sent' | 'failed'; error?: string }[];
}

/** The due judgement of one target (from its observation): `due: false` skips it without making a run. */
export interface DueVerdict {
  due: boolean;
  /** Why, for the summary (the preflight verdict's message). */
  why: string;
}

/** What {@link runFleet} needs. */
export interface FleetDeps {
  /** At most this many targets are judged or rotated at once. */
  concurrency: number;
  /** `--due`: judges each target before its run; absent, every selected target runs (its preflight decides). */
  judgeDue?: (target: string, signal: AbortSignal) => Promise<DueVerdict>;
  /** Rotates one target: starts its run and returns its result (a thrown error becomes `blocked` or `error`). */
  rotate: (target: string, signal: AbortSignal) => Promise<FleetRunResult>;
  /** Ctrl-C: targets not yet started are not started; running ones stop at once and stay resumable. */
  signal?: AbortSignal;
}

/** The result of a target whose judgement or run threw: the runner's busy errors are exit 4, anything else 1. */
export function resultOfError(target: string, err: unknown): FleetRunResult {
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  // RunInFlightError carries the same name (world guard): both mean another run holds the target (exit 4).
  if (name === 'TargetBusyError')
    return { target, runId: null, outcome: 'blocked', exitCode: ExitCode.locked, message };
  return { target, runId: null, outcome: 'error', exitCode: ExitCode.error, message };
}

/**
 * Runs the fleet: every target gets a result, in the order given, whatever the others do. A target's failure never
 * stops the rest — each run is its own run with its own lock and journal, resumable by itself.
 */
export async function runFleet(targets: readonly string[], deps: FleetDeps): Promise<FleetRunResult[]> {
  const signal = deps.signal ?? new AbortController().signal;
  const limit = pLimit(deps.concurrency);
  return Promise.all(
    targets.map((target) =>
      limit(async (): Promise<FleetRunResult> => {
        if (signal.aborted) {
          return { target, runId: null, outcome: 'notStarted', exitCode: ExitCode.interrupted };
        }
        // Each target hears Ctrl-C through a signal of its own, unhooked when it ends: listeners a run leaves on it
        // (the driver adds one per run) then never pile up on the fleet's signal, however many targets run.
        const own = new AbortController();
        const forward = () => own.abort(signal.reason);
        signal.addEventListener('abort', forward, { once: true });
        try {
          if (deps.judgeDue) {
            const verdict = await deps.judgeDue(target, own.signal);
            if (!verdict.due)
              return { target, runId: null, outcome: 'notDue', exitCode: ExitCode.ok, message: verdict.why };
          }
          return await deps.rotate(target, own.signal);
        } catch (err) {
          return resultOfError(target, err);
        } finally {
          signal.removeEventListener('abort', forward);
        }
      }),
    ),
  );
}

/**
 * The fleet's exit code, the worst of its targets', in this precedence: 130 when Ctrl-C stopped the fleet; else 1
 * if any target failed (failed, rolled back, superseded, an error, a run stopped by SIGTERM); else 3 if any is
 * parked; else 4 if any is blocked by another run; else 0.
 */
export function fleetExitCode(results: readonly FleetRunResult[], interrupted?: NodeJS.Signals): number {
  if (interrupted === 'SIGINT') return ExitCode.interrupted;
  const codes = new Set(results.map((r) => r.exitCode));
  for (const code of [ExitCode.error, ExitCode.parked, ExitCode.locked]) if (codes.has(code)) return code;
  // A 130 of a single target without a fleet-wide SIGINT cannot happen; count it as an error to be safe.
  return codes.has(ExitCode.interrupted) ? ExitCode.error : ExitCode.ok;
}

/** How many targets ended in each outcome (every outcome listed, zeros included), and the total. */
export function fleetCounts(results: readonly FleetRunResult[]): Record<FleetOutcome | 'total', number> {
  const counts = Object.fromEntries(FLEET_OUTCOMES.map((o) => [o, 0])) as Record<FleetOutcome | 'total', number>;
  for (const r of results) counts[r.outcome] += 1;
  counts.total = results.length;
  return counts;
}

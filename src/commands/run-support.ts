/**
 * What rotate, resume and rollback share: the runner's dependencies for a target, Ctrl-C handling, the result
 * printed as the rotate JSON document or a summary, and the exit code.
 */
import type { RunEnvelope, RunStore } from '../adapters/ports.js';
import { assertRunId } from '../adapters/state/run-format.js';
import { openStateBackend } from '../adapters/state/index.js';
import { sweepStaleKeyFiles } from '../adapters/servers/key-files.js';
import { UsageError } from '../errors.js';
import { ExitCode, exitCodeFor, type ExitCodeValue } from '../exit-codes.js';
import { buildTimeline } from '../report/run-timeline.js';
import type { JournalLine } from '../runs/observers/journal.js';
import type { Invocation, RunObserver } from '../runs/events.js';
import { redactArgv } from '../runs/observers/journal.js';
import { runJsonDocument, type RunDocument, type RunnerDeps } from '../runs/runner.js';
import { systemClock } from '../runs/system-clock.js';
import { findTarget } from '../runs/target-input.js';
import { DEFAULT_STALE_RUN_AFTER_MS } from '../machines/credential-inventory.js';
import type { TargetConfig } from '../config/schema.js';
import type { CommandContext } from './context.js';
import type { StepTimes } from './guided-text.js';
import { progressWriter, runSummary } from './progress.js';
import { portsForTarget } from './target-ports.js';

/** The runner's dependencies for one target: the configured state backend, adapters over the real SDKs. */
export async function runnerDeps(
  ctx: CommandContext,
  target: TargetConfig,
): Promise<RunnerDeps & { staleRunAfterMs: number }> {
  const loaded = await ctx.config();
  // Progress lines own stderr from here on: info logs go to --log-file only (--json shows no progress; left as is).
  if (!ctx.options.json) ctx.logsBesideProgress();
  // Key files left by a certrotate that was killed (kill -9) go before any step runs (DESIGN I4).
  await sweepStaleKeyFiles({ logger: ctx.logger });
  const { store, lock, renewEveryMs } = openStateBackend(loaded.config);
  const ports = await portsForTarget(ctx, loaded.config, target);
  return {
    store,
    lock,
    ...(renewEveryMs !== undefined ? { renewEveryMs } : {}),
    // `defaults.readSettle`: how long a retried write reads before it believes its key is absent.
    ports: { ...ports, timing: { ...ports.timing, readSettleMs: loaded.config.defaults.readSettle } },
    clock: systemClock,
    logger: ctx.logger,
    configOption: ctx.options.config,
    // The world guard's bound: how long a run with no record here counts as in flight (src/runs/world-guard.ts).
    staleRunAfterMs: loaded.config.defaults.staleRunAfter ?? DEFAULT_STALE_RUN_AFTER_MS,
  };
}

/**
 * An AbortSignal that fires on the first Ctrl-C (or SIGTERM): the run stops at once and stays resumable, because
 * every snapshot is already on disk and every step re-runs safely. A second Ctrl-C exits without waiting.
 */
export function interruptSignal(): {
  signal: AbortSignal;
  dispose: () => void;
  /** The signal that stopped the run (`SIGINT` for Ctrl-C), once one did. */
  readonly received: NodeJS.Signals | undefined;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted);
    received = name;
    process.stderr.write(`\n${name}: stopping; the run can be resumed\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Progress lines on stderr unless `--json` keeps the terminal quiet for machines; commands carry the --config. */
export function progressFor(ctx: CommandContext): RunObserver | undefined {
  return ctx.options.json ? undefined : progressWriter(process.stderr, ctx.options.config);
}

/**
 * How this process was invoked, for the run's journal: the command line as typed (secrets redacted) and the mode.
 * A command run from inside another (`demo`) records the outer command line, which is what was typed.
 */
export function invocationOf(
  mode: Invocation['mode'],
  confirmation: Invocation['confirmation'],
  extra: Pick<Invocation, 'planFile' | 'planFingerprint' | 'force'> = {},
): Invocation {
  return {
    mode,
    argv: redactArgv(process.argv.slice(2)),
    confirmation,
    ...(extra.planFile ? { planFile: extra.planFile } : {}),
    ...(extra.planFingerprint ? { planFingerprint: extra.planFingerprint } : {}),
    ...(extra.force ? { force: true } : {}),
  };
}

/**
 * The exit code of a run's result (DESIGN §5): an unfinished run stopped by Ctrl-C is 130 (resumable); one stopped
 * by SIGTERM or a lost snapshot write stays an error.
 */
export function runExitCode(doc: RunDocument, interrupted?: NodeJS.Signals): ExitCodeValue {
  if (doc.outcome === null && interrupted === 'SIGINT') return ExitCode.interrupted;
  return exitCodeFor(doc.outcome);
}

/**
 * Each step's time as `show` counts it, from the run's journal: at work plus waiting to retry, without the time the
 * run sat parked or stopped between invocations. Undefined when the journal cannot be read (the summary then falls
 * back to the records' start and end).
 */
export async function stepTimes(store: RunStore, runId: string): Promise<StepTimes | undefined> {
  try {
    const journal = (await store.readJournal(runId)) as JournalLine[];
    const times = new Map<string, number>();
    for (const lane of buildTimeline(journal).lanes) {
      times.set(
        lane.step,
        lane.spans.reduce((sum, span) => sum + (span.to - span.from), 0),
      );
    }
    return times;
  } catch {
    return undefined;
  }
}

/** Prints a run's result and returns its exit code (DESIGN §5). */
export async function reportRun(
  ctx: CommandContext,
  doc: RunDocument,
  store: RunStore,
  interrupted?: NodeJS.Signals,
): Promise<number> {
  const times = ctx.options.json ? undefined : await stepTimes(store, doc.runId);
  ctx.print(runJsonDocument(doc), () => runSummary(doc, times));
  return runExitCode(doc, interrupted);
}

/**
 * The stored run `runId` with its configured target, for the commands that continue or close a run (resume,
 * rollback, abandon). A malformed id, a run the state store does not have, or a target no longer configured is a
 * usage error (exit 1) that names the id and where it looked.
 */
export async function loadStoredRun(
  ctx: CommandContext,
  runId: string,
): Promise<{ envelope: RunEnvelope; target: TargetConfig }> {
  try {
    assertRunId(runId);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const loaded = await ctx.config();
  const envelope = await openStateBackend(loaded.config).store.loadSnapshot(runId);
  if (!envelope) {
    throw new UsageError(`run "${runId}" not found in ${loaded.stateDir}; \`certrotate runs\` lists the runs there`);
  }
  return { envelope, target: findTarget(loaded.config, envelope.target) };
}

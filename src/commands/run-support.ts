/**
 * What rotate, resume and rollback share: the runner's dependencies for a target, Ctrl-C handling, the result
 * printed as the rotate JSON document or a summary, and the exit code.
 */
import { openStateBackend } from '../adapters/state/index.js';
import { sweepStaleKeyFiles } from '../adapters/servers/key-files.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import type { Invocation, RunObserver } from '../runs/events.js';
import { redactArgv } from '../runs/observers/journal.js';
import { runJsonDocument, type RunDocument, type RunnerDeps } from '../runs/runner.js';
import { systemClock } from '../runs/system-clock.js';
import type { TargetConfig } from '../config/schema.js';
import type { CommandContext } from './context.js';
import { progressWriter, runSummary } from './progress.js';
import { portsForTarget } from './target-ports.js';

/** The runner's dependencies for one target: the configured state backend, adapters over the real SDKs. */
export async function runnerDeps(ctx: CommandContext, target: TargetConfig): Promise<RunnerDeps> {
  const loaded = await ctx.config();
  // Key files left by a certrotate that was killed (kill -9) go before any step runs (DESIGN I4).
  await sweepStaleKeyFiles({ logger: ctx.logger });
  const { store, lock, renewEveryMs } = openStateBackend(loaded.config);
  return {
    store,
    lock,
    ...(renewEveryMs !== undefined ? { renewEveryMs } : {}),
    ports: await portsForTarget(ctx, loaded.config, target),
    clock: systemClock,
    logger: ctx.logger,
  };
}

/**
 * An AbortSignal that fires on the first Ctrl-C (or SIGTERM): the run stops at once and stays resumable, because
 * every snapshot is already on disk and every step re-runs safely. A second Ctrl-C exits without waiting.
 */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted);
    process.stderr.write(`\n${name}: stopping; the run can be resumed\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Progress lines on stderr unless `--json` keeps the terminal quiet for machines. */
export function progressFor(ctx: CommandContext): RunObserver | undefined {
  return ctx.options.json ? undefined : progressWriter();
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

/** Prints a run's result and returns its exit code (DESIGN §5). */
export function reportRun(ctx: CommandContext, doc: RunDocument): number {
  ctx.print(runJsonDocument(doc), () => runSummary(doc));
  return exitCodeFor(doc.outcome);
}

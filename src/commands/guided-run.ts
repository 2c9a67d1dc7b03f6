/**
 * What `rotate` and `resume` do differently in guided mode: open a {@link GuidedSession}, show the plan (rotate) or
 * where the run stopped (resume) before anything changes, and close with the summary and the next action.
 */
import type { RotationInput, StepRecord } from '../machines/rotation-types.js';
import { rotationDue, selectCurrentKey } from '../machines/rotation-policies.js';
import { buildPlan } from '../runs/plan-fingerprint.js';
import type { RunStore } from '../adapters/ports.js';
import type { RunDocument, RunnerDeps } from '../runs/runner.js';
import { UsageError, type CommandContext } from './context.js';
import { GuidedSession } from './guided-session.js';
import { stoppedAt, type TargetKind } from './guided-text.js';
import { observeTarget } from './observe.js';
import { runSummary } from './progress.js';
import { runExitCode, stepTimes } from './run-support.js';

/**
 * Info-level log lines say what the step list already shows, and a line written under a spinner breaks it; at the
 * default level guided mode keeps the terminal to warnings. An explicit other level, or a log file, is left alone.
 */
function quietInfoLogs(ctx: CommandContext): void {
  if (ctx.options.logLevel === 'info' && !ctx.options.logFile) ctx.logger.level = 'warn';
}

function newSession(ctx: CommandContext, signal: AbortSignal, kind: TargetKind): GuidedSession {
  quietInfoLogs(ctx);
  return new GuidedSession({
    signal,
    color: ctx.options.color && !ctx.env.NO_COLOR,
    kind,
    ...(ctx.options.config !== undefined ? { configOption: ctx.options.config } : {}),
  });
}

/** Adds whole months to an epoch-ms time, the way a certificate's validity counts them. */
function addMonths(now: number, months: number): string {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString();
}

/**
 * Opens a guided rotation: the intro, then the plan from a fresh observation (reads only, I6), with the key in use,
 * its expiry and the new key's expiry. The run itself observes again in preflight, so nothing shown here is trusted
 * later on.
 */
export async function openGuidedRotation(
  ctx: CommandContext,
  deps: RunnerDeps,
  input: RotationInput,
  signal: AbortSignal,
): Promise<GuidedSession> {
  const session = newSession(ctx, signal, input.kind);
  session.start(['rotate', input.target]);
  try {
    const observation = await session.during('Reading the app registration, Key Vault and the server', () =>
      observeTarget(deps.ports, input, signal),
    );
    const plan = buildPlan(observation, input);
    const selection = selectCurrentKey(observation, input);
    const due = selection.ok && (input.force || rotationDue(selection.key, observation.now, input));
    session.showPlan(plan, {
      now: observation.now,
      ...(selection.ok
        ? { current: { thumbprint: selection.key.thumbprint, expiresOn: selection.key.expiresOn } }
        : {}),
      ...(due && input.keyVault
        ? { newExpiresOn: addMonths(observation.now, input.keyVault.policy.validityMonths) }
        : {}),
    });
    session.info(`Run ${input.runId}: each change is asked for first; Ctrl-C stops it resumable.`);
  } catch (err) {
    session.dispose();
    // Ctrl-C while reading: no run exists yet, so there is nothing to resume and nothing was changed (reads only).
    if (signal.aborted) throw new UsageError('stopped before the run started; nothing was changed');
    throw err;
  }
  return session;
}

/** Opens a guided resume or rollback of a run: where it stopped and why, before it goes on. */
export function openGuidedResume(
  ctx: CommandContext,
  mode: 'resume' | 'rollback',
  run: {
    runId: string;
    target: string;
    kind: TargetKind;
    state: string;
    outcome: string | null;
    steps: StepRecord[];
    message?: string;
  },
  signal: AbortSignal,
): GuidedSession {
  const session = newSession(ctx, signal, run.kind);
  session.start([mode, run.runId]);
  const where = run.outcome ? `parked (${run.outcome})` : `interrupted ${stoppedAt(run, run.kind)}`;
  session.info(
    `Target ${run.target}: the run is ${where}${run.message ? ` — ${run.message.replace(/\.$/, '')}` : ''}. ` +
      (mode === 'rollback' ? 'Rolling back is asked for first.' : 'Each remaining change is asked for first.'),
  );
  return session;
}

/**
 * Closes a guided run: the summary and next action on the terminal. The result document still goes to stdout with
 * `--json`, and as the plain summary when stdout is not the terminal (a log file keeps it).
 */
export async function reportGuidedRun(
  ctx: CommandContext,
  session: GuidedSession,
  doc: RunDocument,
  store: RunStore,
  interrupted?: NodeJS.Signals,
): Promise<number> {
  // Each step's time as `show` counts it: a run parked for a day before its resume did not work for a day.
  const times = await stepTimes(store, doc.runId);
  session.finish(doc, times);
  if (ctx.options.json || !process.stdout.isTTY) ctx.print(doc, () => runSummary(doc, times));
  return runExitCode(doc, interrupted);
}

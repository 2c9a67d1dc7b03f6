import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { describeRun } from '../runs/run-view.js';
import { resumeRun } from '../runs/runner.js';
import type { CommandContext } from './context.js';
import { openGuidedResume, reportGuidedRun } from './guided-run.js';
import { commandNotifier, withNotifications } from './run-notify.js';
import { interruptSignal, invocationOf, loadStoredRun, progressFor, reportRun, runnerDeps } from './run-support.js';

/**
 * `resume RUN_ID` and `rollback RUN_ID`: continue a parked or interrupted run from its snapshot, or (rollback) send
 * a parked run back: the server to the old key, the new key off the app, the new Key Vault version disabled.
 */
export async function resumeCommand(ctx: CommandContext, runId: string, mode: 'resume' | 'rollback'): Promise<number> {
  const { envelope, target } = await loadStoredRun(ctx, runId);
  const guided = ctx.interactive && !ctx.options.yes;
  if (!ctx.interactive && !ctx.options.yes) {
    throw new UsageError(
      `${mode} may change the app registration, Key Vault and the server of "${target.name}" and cannot ask here ` +
        '(no terminal, or CI=true); pass --yes',
    );
  }
  const deps = await runnerDeps(ctx, target);
  const interrupt = interruptSignal();
  // Guided: where the run stopped first, a question before each change, a live step list (guided-*.ts).
  const run = describeRun(envelope);
  const session = guided
    ? openGuidedResume(
        ctx,
        mode,
        {
          runId,
          target: target.name,
          kind: target.kind,
          state: run.state,
          outcome: run.outcome,
          // The step whose actor was at work is the one that re-runs, whatever its record last said.
          steps: run.activeStep
            ? [{ name: run.activeStep, status: 'running', startedAt: run.updatedAt, attempts: 1 }]
            : run.steps,
          ...(run.park ? { message: run.park.message } : {}),
        },
        interrupt.signal,
      )
    : undefined;
  try {
    const progress = session?.observer ?? progressFor(ctx);
    const { config } = await ctx.config();
    const notifier = commandNotifier(ctx, config, target, runId, deps.store);
    const observers = [...(progress ? [progress] : []), ...(notifier ? [notifier] : [])];
    const ran = await resumeRun(deps, runId, {
      rollback: mode === 'rollback',
      signal: interrupt.signal,
      invocation: invocationOf(mode, guided ? 'guided' : 'yes'),
      ...(observers.length ? { observers } : {}),
      ...(session ? { confirm: session.confirm } : {}),
    });
    // Deliveries are bounded (src/notify/deliver.ts) and never change the run's outcome or exit code.
    const doc = await withNotifications(ran, notifier);
    const code = session
      ? await reportGuidedRun(ctx, session, doc, deps.store, interrupt.received)
      : await reportRun(ctx, doc, deps.store, interrupt.received);
    // For `rollback`, rolled back is the outcome the operator asked for, not a failed rotation.
    return mode === 'rollback' && doc.outcome === 'rolledBack' ? ExitCode.ok : code;
  } finally {
    session?.dispose();
    interrupt.dispose();
  }
}

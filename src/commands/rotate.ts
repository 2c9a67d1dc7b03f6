import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { RotationPlan } from '../machines/plan.js';
import { planStaleness } from '../runs/plan-fingerprint.js';
import type { RunObserver } from '../runs/events.js';
import { newRunId, startRun } from '../runs/runner.js';
import { findTarget, rotationInputFor } from '../runs/target-input.js';
import type { CommandContext } from './context.js';
import { openGuidedRotation, reportGuidedRun } from './guided-run.js';
import { nextCommand } from '../next-step.js';
import { observeTarget } from './observe.js';
import type { FleetOptions } from './rotate-fleet.js';
import { commandNotifier, withNotifications } from './run-notify.js';
import { interruptSignal, invocationOf, progressFor, reportRun, runnerDeps } from './run-support.js';

/** Options of `rotate`. */
export interface RotateOptions {
  /** A plan saved by `plan --out`: approval of exactly what it lists, refused when the world moved on. */
  plan?: string;
  /** Rotate even when the key is not due. */
  force?: boolean;
  /** Who follows the run's progress (default: lines on stderr unless --json; the guided screen when guided). */
  progress?: RunObserver;
}

async function readPlan(path: string): Promise<RotationPlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `option --plan: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch {
    throw new UsageError(
      `option --plan: ${path} is not JSON; expected the file written by \`certrotate plan TARGET --out FILE\``,
    );
  }
  const p = plan as Partial<RotationPlan>;
  if (p.formatVersion !== 1 || typeof p.fingerprint !== 'string' || typeof p.target !== 'string') {
    throw new UsageError(
      `option --plan: ${path} is not a certrotate plan (formatVersion 1 with target and fingerprint); expected the file written by \`certrotate plan TARGET --out FILE\``,
    );
  }
  return p as RotationPlan;
}

/** The plan's `force`; an explicit `--force` the plan was not made with is a conflict, said as one. */
function planForce(plan: RotationPlan, opts: RotateOptions, configOption: string | undefined): boolean | undefined {
  const saved = plan.options?.force ?? false;
  if (opts.force && !saved) {
    const again = nextCommand(['plan', plan.target, '--force', '--out', opts.plan!], configOption);
    throw new UsageError(
      `option --force: the plan in ${opts.plan} was made without --force, and a plan is applied as it was made; ` +
        `to force the rotation make a forced plan with \`${again}\``,
    );
  }
  return saved || undefined;
}

/**
 * `rotate TARGET [--yes] [--plan FILE]`: runs the rotation machine for one target. With no TARGET, or with a fleet
 * option (`--due`, `--targets`, `--match`, `--concurrency`, `--dry-run`), the fleet branch (rotate-fleet.ts) runs.
 */
export async function rotateCommand(
  ctx: CommandContext,
  targetName: string | undefined,
  opts: RotateOptions & FleetOptions,
): Promise<number> {
  const { due, targets, match, concurrency, dryRun } = opts;
  if (targetName === undefined || due || targets !== undefined || match !== undefined || concurrency || dryRun) {
    return (await import('./rotate-fleet.js')).rotateFleetCommand(ctx, targetName, opts);
  }
  const { config } = await ctx.config();
  const target = findTarget(config, targetName);
  const plan = opts.plan ? await readPlan(opts.plan) : undefined;
  const guided = ctx.interactive && !ctx.options.yes && !plan;
  if (!ctx.interactive && !ctx.options.yes && !plan) {
    throw new UsageError(
      `rotate changes the app registration, Key Vault and the server of "${targetName}" and cannot ask here ` +
        `(no terminal, or CI=true); pass --yes, or --plan FILE from \`certrotate plan ${targetName} --out FILE\``,
    );
  }
  const deps = await runnerDeps(ctx, target);
  const runId = newRunId(target.name, deps.clock.now());
  // A plan is applied with the options it was made with (`plan --force` needs no second --force here).
  const force = plan ? planForce(plan, opts, ctx.options.config) : opts.force;
  const input = rotationInputFor(config, target, { runId, force });
  if (plan) {
    // Observe now and compare: a plan approved against a world that has since changed approves nothing.
    const stale = planStaleness(plan, await observeTarget(deps.ports, input), input);
    if (stale) {
      const again = nextCommand(
        ['plan', targetName, ...(force ? ['--force'] : []), '--out', opts.plan!],
        ctx.options.config,
      );
      const apply = nextCommand(['rotate', targetName, '--plan', opts.plan!], ctx.options.config);
      throw new UsageError(`option --plan: ${stale}; make a new plan with \`${again}\`, then \`${apply}\``);
    }
  }
  const interrupt = interruptSignal();
  try {
    // Guided: the plan first, a question before each change, a live step list (src/commands/guided-*.ts).
    let session: Awaited<ReturnType<typeof openGuidedRotation>> | undefined;
    try {
      session = guided ? await openGuidedRotation(ctx, deps, input, interrupt.signal) : undefined;
    } catch (err) {
      // Ctrl-C while the plan was read: no run exists and nothing changed; still an interruption (130), not an error.
      if (interrupt.received !== 'SIGINT') throw err;
      process.stderr.write(`certrotate: ${(err as Error).message}\n`);
      return ExitCode.interrupted;
    }
    try {
      // Issue 13: the site's identity verdict, as `plan` shows it. Informational: it never blocks or changes the run.
      if (target.kind === 'power-pages') {
        const { identityLine, targetIdentity } = await import('./identity-line.js');
        const line = async () =>
          identityLine(target.name, await targetIdentity(ctx, config, target), ctx.options.config);
        if (session) session.info(await session.during('Reading the site’s Dataverse identity', line));
        else process.stderr.write(`${await line()}\n`);
      }
      const progress = opts.progress ?? session?.observer ?? progressFor(ctx);
      const notifier = commandNotifier(ctx, config, target, runId, deps.store);
      const observers = [...(progress ? [progress] : []), ...(notifier ? [notifier] : [])];
      const ran = await startRun(deps, input, {
        plan,
        signal: interrupt.signal,
        invocation: invocationOf('rotate', plan ? 'plan' : guided ? 'guided' : 'yes', {
          ...(opts.plan ? { planFile: opts.plan } : {}),
          ...(plan ? { planFingerprint: plan.fingerprint } : {}),
          ...(force ? { force: true } : {}),
        }),
        ...(observers.length ? { observers } : {}),
        ...(session ? { confirm: session.confirm } : {}),
      });
      // Deliveries are bounded (src/notify/deliver.ts) and never change the run's outcome or exit code.
      const doc = await withNotifications(ran, notifier);
      return session
        ? await reportGuidedRun(ctx, session, doc, deps.store, interrupt.received)
        : await reportRun(ctx, doc, deps.store, interrupt.received);
    } finally {
      session?.dispose();
    }
  } finally {
    interrupt.dispose();
  }
}

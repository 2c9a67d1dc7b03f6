/**
 * `rotate --due | --targets a,b | --match GLOB`: the fleet branch of `rotate`. Each selected target gets its own run
 * through the same runner as `rotate TARGET --yes` — its own lock, the open-run and world guards, its own journal —
 * so each is resumed by itself with `resume RUN_ID`. Orchestration lives in src/fleet/.
 */
import { UsageError } from '../errors.js';
import type { Config, TargetConfig } from '../config/schema.js';
import type { RunStore } from '../adapters/ports.js';
import { preflightVerdict } from '../machines/preflight.js';
import type { RotationContext } from '../machines/rotation-types.js';
import { buildPlan } from '../runs/plan-fingerprint.js';
import type { RunObserver } from '../runs/events.js';
import { newRunId, startRun, type RunDocument } from '../runs/runner.js';
import { findTarget, rotationInputFor } from '../runs/target-input.js';
import { defaultFleetConcurrency, runFleet, type FleetRunResult } from '../fleet/fleet-run.js';
import { fleetDocument, fleetSummary } from '../fleet/fleet-summary.js';
import { fleetExitCode } from '../fleet/fleet-run.js';
import { isFleetSelection, parseConcurrency, parseTargetList, selectTargets } from '../fleet/select.js';
import type { CommandContext } from './context.js';
import { observeTarget } from './observe.js';
import { planText } from './plan.js';
import { ProgressLines } from './progress.js';
import { interruptSignal, invocationOf, runExitCode, runnerDeps } from './run-support.js';
import { runNotifier, withNotifications } from './run-notify.js';
import { portsForTarget } from './target-ports.js';

/** The fleet options of `rotate`. */
export interface FleetOptions {
  /** Rotate every selected target whose key is due (targets not due get no run). */
  due?: boolean;
  /** Comma-separated target names. */
  targets?: string;
  /** A glob over target names. */
  match?: string;
  /** At most this many runs at once (default sized from the budgets: {@link defaultFleetConcurrency}). */
  concurrency?: string;
  /** Print every selected target's plan; change nothing. */
  dryRun?: boolean;
  force?: boolean;
  plan?: string;
}

/**
 * Progress lines of one target's run, each prefixed by the target's name so concurrent runs stay readable; commands
 * they offer carry `configOption`, the --config in use.
 */
export function prefixedProgress(
  target: string,
  width: number,
  stream: NodeJS.WritableStream,
  configOption?: string,
): RunObserver {
  const lines = new ProgressLines(configOption);
  const prefix = `${target.padEnd(width)} | `;
  return {
    onEvent(event) {
      const line = lines.line(event);
      if (line) stream.write(`${prefix}${line}\n`);
    },
  };
}

/** The facts a fleet line shows from the run's stored snapshot: the new key's expiry and why a site parked. */
function snapshotFacts(snapshot: unknown): Pick<FleetRunResult, 'newExpiresOn' | 'sitePark'> {
  const context = (snapshot as { context?: RotationContext } | undefined)?.context;
  if (!context) return {};
  const facts: Pick<FleetRunResult, 'newExpiresOn' | 'sitePark'> = {};
  if (context.newKey?.expiresOn) facts.newExpiresOn = context.newKey.expiresOn;
  if (context.park?.reason === 'platformKeyUpdate' && context.settings.site) {
    facts.sitePark = {
      site: context.site?.name || context.settings.site.websiteId,
      environment: context.site?.environmentName || context.settings.site.environmentId,
      ...(context.current ? { currentThumbprint: context.current.thumbprint } : {}),
      ...(context.current ? { currentExpiresOn: context.current.expiresOn } : {}),
    };
  }
  return facts;
}

function resultOf(doc: NotifiedRun, exitCode: number, snapshot: unknown): FleetRunResult {
  return {
    target: doc.target,
    runId: doc.runId,
    outcome: doc.outcome ?? 'interrupted',
    exitCode,
    oldThumbprint: doc.oldThumbprint,
    newThumbprint: doc.newThumbprint,
    ...snapshotFacts(snapshot),
    ...(doc.message ? { message: doc.message } : {}),
    ...(doc.next ? { next: doc.next } : {}),
    ...(doc.notifications ? { notifications: doc.notifications } : {}),
  };
}

type NotifiedRun = Awaited<ReturnType<typeof withNotifications>>;

/**
 * One fleet target's run with the observers a single `rotate` attaches: its progress lines and, when channels are
 * configured, its own notifier (so a parked or failed target is told about as `rotate TARGET` would tell it). The
 * deliveries join the run's document; like `rotate`'s, they never change its outcome or exit code.
 */
export async function runFleetTarget(
  config: Config,
  target: TargetConfig,
  runId: string,
  store: RunStore,
  start: (observers: RunObserver[]) => Promise<RunDocument>,
  o: {
    progress?: RunObserver;
    warn?: (fields: Record<string, unknown>, message: string) => void;
    /** The global `--config` in use: the commands the notifications name carry it. */
    configOption?: string;
  } = {},
): Promise<NotifiedRun> {
  const notifier = runNotifier(config, target, runId, store, o.warn, o.configOption);
  const observers = [...(o.progress ? [o.progress] : []), ...(notifier ? [notifier] : [])];
  return withNotifications(await start(observers), notifier);
}

/** Refuses a fleet command line that mixes a TARGET with fleet options, or uses fleet-only options without one. */
function assertFleetUsage(targetName: string | undefined, opts: FleetOptions): void {
  const fleet = isFleetSelection({
    due: opts.due,
    ...(opts.targets !== undefined ? { targets: [] } : {}),
    ...(opts.match !== undefined ? { match: opts.match } : {}),
  });
  if (targetName !== undefined && fleet) {
    const option = opts.due
      ? '--due'
      : opts.targets !== undefined
        ? `--targets ${opts.targets}`
        : `--match ${opts.match}`;
    throw new UsageError(
      `rotate: TARGET "${targetName}" and ${option} are mutually exclusive; give one TARGET, or select a fleet ` +
        'with --due, --targets a,b or --match GLOB',
    );
  }
  if (!fleet) {
    if (targetName === undefined) {
      throw new UsageError('rotate: expected a TARGET, or a fleet with --due, --targets a,b or --match GLOB');
    }
    const option = opts.dryRun ? '--dry-run' : `--concurrency ${opts.concurrency}`;
    throw new UsageError(
      `option ${option}: applies to fleet runs (--due, --targets, --match); for one target use ` +
        `\`certrotate plan ${targetName}\` or \`certrotate rotate ${targetName}\``,
    );
  }
  if (opts.plan) {
    throw new UsageError(
      `option --plan: a saved plan approves one target; for a fleet, review \`rotate --due --dry-run\` and pass --yes`,
    );
  }
  if (opts.due && opts.force) {
    throw new UsageError(
      'option --force: --due rotates only targets that are due; to rotate targets regardless, select them with ' +
        '--targets a,b or --match GLOB and --force',
    );
  }
}

/** `rotate --due --dry-run`: every selected target's plan from real reads, no write to any service (I6). */
async function dryRun(
  ctx: CommandContext,
  config: Config,
  names: string[],
  concurrency: number,
  opts: FleetOptions,
): Promise<number> {
  const pLimit = (await import('p-limit')).default;
  const limit = pLimit(concurrency);
  const plans = await Promise.all(
    names.map((name) =>
      limit(async () => {
        const target = findTarget(config, name);
        const ports = await portsForTarget(ctx, config, target);
        const input = rotationInputFor(config, target, { runId: 'plan', force: opts.force });
        return buildPlan(await observeTarget(ports, input), input);
      }),
    ),
  );
  // --due: a target with nothing to change is listed as such (its plan says "No changes: nothing is due").
  ctx.print({ formatVersion: 1, plans }, () => plans.map((p) => planText(p)).join('\n\n'));
  return 0;
}

/** `rotate --due | --targets a,b | --match GLOB [--concurrency N] [--dry-run] [--force] --yes`. */
export async function rotateFleetCommand(
  ctx: CommandContext,
  targetName: string | undefined,
  opts: FleetOptions,
): Promise<number> {
  assertFleetUsage(targetName, opts);
  const { config } = await ctx.config();
  const names = selectTargets(
    config.targets.map((t) => t.name),
    {
      ...(opts.targets !== undefined ? { targets: parseTargetList(opts.targets) } : {}),
      ...(opts.match !== undefined ? { match: opts.match } : {}),
    },
  );
  const concurrency = parseConcurrency(
    opts.concurrency,
    defaultFleetConcurrency(
      names.map((name) => {
        const target = findTarget(config, name);
        return target.kind === 'keyvault' ? { vaultHost: new URL(target.keyVault.url).host } : {};
      }),
    ),
  );
  if (opts.dryRun) return dryRun(ctx, config, names, concurrency, opts);
  // Guided mode asks before each change of one run; across concurrent runs that would interleave questions about
  // different targets. A fleet is approved as a whole instead: read its plan (--dry-run), then pass --yes.
  if (!ctx.options.yes) {
    throw new UsageError(
      `rotate ${opts.due ? '--due' : opts.targets !== undefined ? '--targets' : '--match'} runs unattended and ` +
        `does not ask per step: review the plan with --dry-run, then pass --yes (${names.length} target(s) selected)`,
    );
  }
  const width = Math.max(...names.map((n) => n.length));
  const interrupt = interruptSignal();
  try {
    const results = await runFleet(names, {
      concurrency,
      signal: interrupt.signal,
      ...(opts.due
        ? {
            judgeDue: async (name: string, signal: AbortSignal) => {
              const target = findTarget(config, name);
              const ports = await portsForTarget(ctx, config, target);
              const input = rotationInputFor(config, target, { runId: 'due-check' });
              let observation;
              try {
                observation = await observeTarget(ports, input, signal);
              } catch (err) {
                // This read has no retries (a 429, a blip): the run's own preflight reads again with its retry
                // policy and decides; a target that turns out not due then ends `noChange`, having changed nothing.
                if (signal.aborted) throw err;
                return { due: true, why: `could not judge (${(err as Error).message}); its run decides` };
              }
              const verdict = preflightVerdict(observation, input);
              // Not due, or nothing certrotate rotates (a platform identity): no run. A target that cannot be
              // rotated (no usable key) does run, so its failure is reported and recorded as `rotate` would.
              return { due: verdict.verdict !== 'noChange', why: verdict.message };
            },
          }
        : {}),
      rotate: async (name: string, signal: AbortSignal) => {
        const target = findTarget(config, name);
        const deps = await runnerDeps(ctx, target);
        const runId = newRunId(target.name, deps.clock.now());
        const input = rotationInputFor(config, target, { runId, force: opts.force });
        const doc = await runFleetTarget(
          config,
          target,
          runId,
          deps.store,
          (observers) =>
            startRun(deps, input, {
              signal,
              invocation: invocationOf('rotate', 'yes', opts.force ? { force: true } : {}),
              ...(observers.length ? { observers } : {}),
            }),
          {
            ...(ctx.options.json
              ? {}
              : { progress: prefixedProgress(name, width, process.stderr, ctx.options.config) }),
            warn: (f, m) => ctx.logger.warn(f, m),
            ...(ctx.options.config !== undefined ? { configOption: ctx.options.config } : {}),
          },
        );
        const envelope = await deps.store.loadSnapshot(runId);
        return resultOf(doc, runExitCode(doc, interrupt.received), envelope?.snapshot);
      },
    });
    ctx.print(fleetDocument(results, interrupt.received), () => fleetSummary(results, interrupt.received));
    return fleetExitCode(results, interrupt.received);
  } finally {
    interrupt.dispose();
  }
}

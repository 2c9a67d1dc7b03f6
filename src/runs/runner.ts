/**
 * The runner: one rotation run with its durable state. It takes the target's lock (I5), drives the machine, writes
 * every snapshot and journal line to the run store, and turns the result into the rotate/resume JSON document and
 * an exit code. Resuming restores the snapshot (refusing one from another machine version), so the step that was
 * active when the process died runs again — safe, because every step observes before it acts (I3).
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { Logger } from 'pino';
import type { Clock, RunEnvelope, RunStore, TargetLock } from '../adapters/ports.js';
import { ROTATION_MACHINE_VERSION } from '../machines/rotation.js';
import { abandonRefusal } from '../machines/abandonment.js';
import { stateInWords } from '../machines/steps.js';
import { nextCommand, withConfigOption } from '../next-step.js';
import type { RotationContext, RotationInput, RotationOutcome, StepRecord } from '../machines/rotation-types.js';
import { driveRotation, type RotationPorts, type RotationResult } from './driver.js';
import { fanOut, type Invocation, type RunEvent, type RunObserver } from './events.js';
import { journalLines, type JournalDraft, type JournalLine } from './observers/journal.js';
import { describeRun } from './run-view.js';
import { blockingRunMessage, findBlockingRun } from '../adapters/state/open-runs.js';
import { assertNoRunInFlight } from './world-guard.js';

export { exitCodeFor } from '../exit-codes.js';

/** The rotate/resume JSON document of DESIGN §5 (`formatVersion: 1`), plus what a person needs next. */
export interface RunDocument {
  formatVersion: 1;
  runId: string;
  target: string;
  /** null when the run was interrupted (Ctrl-C) before it ended or parked. */
  outcome: RotationOutcome | null;
  oldThumbprint: string | null;
  newThumbprint: string | null;
  steps: StepRecord[];
  /** The machine's state when the process stopped. */
  state: string;
  /** Why the run is parked or failed, and what to do. */
  message?: string;
  /** The command that continues the run, when it can be continued. */
  next?: string;
}

/** One step as the JSON document shows it: every field present, `null` where there is nothing to say. */
export interface StepDocument {
  name: string;
  status: StepRecord['status'];
  startedAt: string;
  endedAt: string | null;
  attempts: number;
  detail: string | null;
}

/**
 * The run document as printed with `--json`: the same fields, with each step's `endedAt` and `detail` always present
 * (DESIGN §5 lists them), so a pipeline can read `steps[i].detail` without testing whether the key exists.
 */
export function runJsonDocument(doc: RunDocument): Omit<RunDocument, 'steps'> & { steps: StepDocument[] } {
  return {
    ...doc,
    steps: doc.steps.map((s) => ({
      name: s.name,
      status: s.status,
      startedAt: s.startedAt,
      endedAt: s.endedAt ?? null,
      attempts: s.attempts,
      detail: s.detail ?? null,
    })),
  };
}

/** A run that could not start because another run holds the target (exit 4). */
export class TargetBusyError extends Error {
  override readonly name = 'TargetBusyError';
  constructor(
    message: string,
    readonly holderRunId: string,
  ) {
    super(message);
  }
}

/** A run that cannot be resumed or rolled back as asked (another machine version, already ended, not parked). */
export class RunRefusedError extends Error {
  override readonly name = 'RunRefusedError';
}

/** What the runner needs. */
export interface RunnerDeps {
  store: RunStore;
  lock: TargetLock;
  /** The target's ports (adapters bound to it). */
  ports: RotationPorts;
  clock: Clock;
  logger?: Logger;
  /** Who runs it, for the journal (default user@host). */
  actor?: string;
  /** How often the lock's lease is renewed while the run is active (default 60 s). */
  renewEveryMs?: number;
  /** This invocation's `--config`, carried into the next-step commands the run document prints. */
  configOption?: string;
}

/** Per-invocation options. */
export interface RunOptions {
  /** Guided mode: asked before each mutating step. Absent: every step is confirmed (`--yes`). */
  confirm?: (step: string, summary: string) => Promise<boolean>;
  /** Ctrl-C: stops at once; the last snapshot resumes. */
  signal?: AbortSignal;
  /** Called after each persisted snapshot, e.g. to render progress. */
  onProgress?: (info: { state: string; status: string }) => void;
  /** What follows the run besides its journal: progress lines, the guided screen. */
  observers?: readonly RunObserver[];
  /** How certrotate was invoked, for the audit trail (default: `--yes` or guided, as the input says). */
  invocation?: Invocation;
}

/** A new run id: sortable by start time, readable, unique. */
export function newRunId(target: string, now: number): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${target}-${randomBytes(3).toString('hex')}`;
}

function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `uid-${process.getuid?.() ?? '?'}@${hostname()}`;
  }
}

/** Refuses to start a second rotation of a target while another run of it is unfinished or parked. */
async function assertNoOpenRun(store: RunStore, target: string): Promise<void> {
  // Interrupted, parked and corrupt runs all block: a corrupt snapshot must never let a second rotation start.
  const open = await findBlockingRun(store, target);
  if (open) throw new TargetBusyError(blockingRunMessage(open, target), open.runId);
}

async function takeLock(deps: RunnerDeps, target: string, runId: string): Promise<void> {
  const got = await deps.lock.acquire(target, runId);
  if (!got.acquired) {
    throw new TargetBusyError(
      `target "${target}" is locked by run ${got.holder.runId} (pid ${got.holder.pid} on ${got.holder.host}, ` +
        `lease until ${got.holder.leaseExpiresAt}); wait for it, or \`certrotate unlock ${target} --force\` if it is dead`,
      got.holder.runId,
    );
  }
  if (got.takenOverFrom) {
    deps.logger?.warn(
      { target, runId, previous: got.takenOverFrom.runId },
      'took over a stale lock left by a run that is no longer alive',
    );
  }
}

async function drive(
  deps: RunnerDeps,
  runId: string,
  target: string,
  drive: {
    input?: RotationInput;
    snapshot?: unknown;
    resumeEvent?: boolean;
    rollbackEvent?: boolean;
    abandonEvent?: boolean;
  },
  opts: RunOptions,
): Promise<RunDocument> {
  const actor = deps.actor ?? whoAmI();
  // A renewal that fails may mean another process holds the target now (its lease was broken, or expired and was
  // taken over): stop before the next step, and leave the lock alone — releasing it could free another's.
  const lockLost = new AbortController();
  let lostBecause: string | undefined;
  const renew = setInterval(() => {
    deps.lock.renew(target, runId).catch((err: unknown) => {
      deps.logger?.error({ err, target, runId }, 'could not renew the target lock');
      if (lockLost.signal.aborted) return;
      lostBecause = err instanceof Error ? err.message : String(err);
      lockLost.abort();
    });
  }, deps.renewEveryMs ?? 60_000);
  renew.unref();
  let result: RotationResult;
  try {
    result = await driveRotation({
      ports: deps.ports,
      ...drive,
      confirm: opts.confirm,
      // Who answers the gates when nobody is asked: this invocation's saved plan, else its --yes.
      ...(opts.invocation?.confirmation === 'plan' ? { confirmedBy: 'plan' as const } : {}),
      signal: opts.signal,
      stopBeforeNextStep: lockLost.signal,
      onSnapshot: async (snapshot, info) => {
        await deps.store.saveSnapshot({
          formatVersion: 1,
          machineVersion: ROTATION_MACHINE_VERSION,
          runId,
          target,
          updatedAt: new Date(deps.clock.now()).toISOString(),
          snapshot,
        });
        opts.onProgress?.(info);
      },
      onJournal: (line) => deps.store.appendJournal(journalLine(line, runId, target, actor)),
      ...(opts.observers ? { observers: opts.observers } : {}),
    });
  } catch (err) {
    clearInterval(renew);
    await deps.store.flush();
    // The run's own failure (its state could not be written: the store is down) is what the operator must read; a
    // release that fails for the same reason must not replace it. The lease then runs out on its own.
    if (!lockLost.signal.aborted) {
      await deps.lock.release(target, runId).catch((releaseErr: unknown) => {
        const error = releaseErr instanceof Error ? releaseErr.message : String(releaseErr);
        deps.logger?.warn({ error, target, runId }, 'could not release the target lock; its lease runs out by itself');
      });
    }
    throw err;
  }
  clearInterval(renew);
  await deps.store.flush();
  if (!lockLost.signal.aborted) await deps.lock.release(target, runId);
  const lost =
    lostBecause !== undefined && result.status === 'interrupted'
      ? `the lock on target "${target}" could not be renewed (${lostBecause}); the run stopped before its next ` +
        `step and can be resumed with \`${nextCommand(['resume', runId], deps.configOption)}\``
      : undefined;
  // The machine's messages name commands without a config (a run's record does not depend on one invocation's
  // path); the document printed for this invocation gives them the --config it used.
  const found = lost ?? result.failure?.message ?? result.park?.message ?? result.note;
  const message = found === undefined ? undefined : withConfigOption(found, deps.configOption);
  const next = result.status === 'final' ? undefined : nextCommand(['resume', runId], deps.configOption);
  return {
    formatVersion: 1,
    runId,
    target,
    outcome: result.outcome,
    oldThumbprint: result.oldThumbprint,
    newThumbprint: result.newThumbprint,
    steps: result.steps,
    state: result.state,
    ...(message ? { message } : {}),
    ...(next ? { next } : {}),
  };
}

/** Starts a new run of the target described by `input` (its `runId` is the new run's id). */
export async function startRun(
  deps: RunnerDeps,
  input: RotationInput,
  opts: RunOptions & { plan?: unknown } = {},
): Promise<RunDocument> {
  const { runId, target } = input;
  await takeLock(deps, target, runId);
  try {
    await assertNoOpenRun(deps.store, target);
    // The tenant, not only this state directory: another agent's rotation of the target may be in flight (I8).
    await assertNoRunInFlight(deps, input);
    const invocation = opts.invocation ?? {
      ...defaultInvocation('rotate', opts.confirm !== undefined),
      ...(input.force ? { force: true } : {}),
    };
    await announce(
      deps,
      runId,
      target,
      { type: 'runStarted', at: deps.clock.now(), target, invocation },
      opts.observers,
    );
    if (opts.plan !== undefined) await deps.store.savePlan(runId, opts.plan);
  } catch (err) {
    await deps.lock.release(target, runId);
    throw err;
  }
  return drive(deps, runId, target, { input }, opts);
}

function journalLine(draft: JournalDraft, runId: string, target: string, actor: string): JournalLine {
  return { ...draft, runId, target, actor };
}

/**
 * A run event the runner itself raises (a start, a resume): its journal lines are written before the run goes on
 * (a write error stops it, like any failure to record the run), then the observers hear of it.
 */
async function announce(
  deps: RunnerDeps,
  runId: string,
  target: string,
  event: RunEvent,
  observers: readonly RunObserver[] | undefined,
): Promise<void> {
  const actor = deps.actor ?? whoAmI();
  for (const line of journalLines(event)) await deps.store.appendJournal(journalLine(line, runId, target, actor));
  fanOut(observers ?? []).onEvent(event);
}

function defaultInvocation(mode: Invocation['mode'], guided: boolean): Invocation {
  return { mode, argv: [], confirmation: guided ? 'guided' : 'yes' };
}

/**
 * Resumes a run from its snapshot: a parked run receives RESUME (or ROLLBACK with `rollback`), an interrupted one
 * re-runs the step that was active. Refuses a snapshot written by another machine version.
 */
export async function resumeRun(
  deps: RunnerDeps,
  runId: string,
  opts: RunOptions & { rollback?: boolean } = {},
): Promise<RunDocument> {
  const first = await deps.store.loadSnapshot(runId);
  if (!first) throw new RunRefusedError(`run "${runId}" has no snapshot; \`certrotate runs\` lists the runs`);
  const before = await judgeResumable(deps.store, runId, first, opts);
  if ('ended' in before) return before.ended;
  await takeLock(deps, first.target, runId);
  let envelope: RunEnvelope;
  let parked: boolean;
  let closeInstead: boolean;
  try {
    // Read it again under the lock: the run's own process may have moved it on, or ended it, between the read above
    // and the lock; driving it from the older snapshot would repeat its steps after its end.
    envelope = (await deps.store.loadSnapshot(runId)) ?? first;
    const now = await judgeResumable(deps.store, runId, envelope, opts);
    if ('ended' in now) {
      await deps.lock.release(first.target, runId);
      return now.ended;
    }
    parked = now.parked;
    closeInstead = now.closeInstead === true;
    const mode = opts.rollback ? 'rollback' : 'resume';
    const invocation = opts.invocation ?? defaultInvocation(mode, opts.confirm !== undefined);
    await announce(
      deps,
      runId,
      envelope.target,
      { type: 'runResumed', at: deps.clock.now(), invocation: { ...invocation, mode } },
      opts.observers,
    );
  } catch (err) {
    await deps.lock.release(first.target, runId);
    throw err;
  }
  return drive(
    deps,
    runId,
    envelope.target,
    {
      snapshot: envelope.snapshot,
      resumeEvent: parked && !opts.rollback,
      // A rollback with nothing to undo, of a run stopped before its first change: it is closed (abandoned).
      ...(closeInstead ? { abandonEvent: true } : { rollbackEvent: Boolean(opts.rollback) }),
    },
    opts,
  );
}

/**
 * `abandon RUN_ID`: closes a run that changed nothing (ABANDON: outcome `abandoned`), journaled with this
 * invocation, so it no longer blocks its target. Refuses (RunRefusedError, nothing driven) a run that changed
 * anything or stopped inside a mutating step, naming rollback or resume instead; a run that already ended, too.
 */
export async function abandonRun(deps: RunnerDeps, runId: string, opts: RunOptions = {}): Promise<RunDocument> {
  const first = await deps.store.loadSnapshot(runId);
  if (!first) throw new RunRefusedError(`run "${runId}" has no snapshot; \`certrotate runs\` lists the runs`);
  judgeAbandonable(runId, first);
  await takeLock(deps, first.target, runId);
  let envelope: RunEnvelope;
  try {
    // Under the lock, again: the run's own process may have moved it on since the read above.
    envelope = (await deps.store.loadSnapshot(runId)) ?? first;
    judgeAbandonable(runId, envelope);
    const invocation = opts.invocation ?? defaultInvocation('abandon', false);
    await announce(
      deps,
      runId,
      envelope.target,
      { type: 'runResumed', at: deps.clock.now(), invocation: { ...invocation, mode: 'abandon' } },
      opts.observers,
    );
  } catch (err) {
    await deps.lock.release(first.target, runId);
    throw err;
  }
  const doc = await drive(deps, runId, envelope.target, { snapshot: envelope.snapshot, abandonEvent: true }, opts);
  if (doc.outcome !== 'abandoned') {
    // The machine's own guard refused what the judgement above allowed: say so rather than report a closed run.
    throw new RunRefusedError(
      `run ${runId} could not be abandoned (it stays in ${doc.state}); \`certrotate show ${runId}\``,
    );
  }
  return doc;
}

/** The machine context a snapshot holds, or undefined when it has none (a snapshot is a file). */
function contextOf(envelope: RunEnvelope): RotationContext | undefined {
  const context = (envelope.snapshot as { context?: RotationContext } | null)?.context;
  return context && typeof context === 'object' && context.progress && context.settings ? context : undefined;
}

/** Refuses a machine version other than this certrotate's: its states and context may mean something else. */
function assertSameMachine(runId: string, envelope: RunEnvelope): void {
  if (envelope.machineVersion !== ROTATION_MACHINE_VERSION) {
    throw new RunRefusedError(
      `run ${runId} was written by rotation machine ${envelope.machineVersion}, but this certrotate runs ` +
        `${ROTATION_MACHINE_VERSION}; resume it with the certrotate version that started it (its journal shows what ` +
        `it did: \`certrotate show ${runId}\`)`,
    );
  }
}

/** Whether a run may be abandoned now (src/machines/abandonment.ts); throws the reason when not. */
function judgeAbandonable(runId: string, envelope: RunEnvelope): void {
  assertSameMachine(runId, envelope);
  const run = describeRun(envelope);
  if (run.ended) {
    throw new RunRefusedError(`run ${runId} already ended (${run.outcome ?? run.state}); there is nothing to abandon`);
  }
  const context = contextOf(envelope);
  if (!context) throw new RunRefusedError(`run ${runId}: its snapshot holds no machine context to judge it by`);
  const refusal = abandonRefusal(run.state, context);
  if (refusal) throw new RunRefusedError(`cannot abandon: ${refusal}`);
}

/**
 * Whether a snapshot can be resumed as asked: refuses another machine version, and a rollback of a run that is not
 * parked; a run that already ended yields its document instead (resume of a finished run is a no-op).
 */
async function judgeResumable(
  store: RunStore,
  runId: string,
  envelope: RunEnvelope,
  opts: { rollback?: boolean },
): Promise<{ parked: boolean; closeInstead?: boolean } | { ended: RunDocument }> {
  assertSameMachine(runId, envelope);
  const run = describeRun(envelope);
  const parked = run.parked;
  if (run.ended) {
    const doc = await finishedDocument(store, runId);
    if (opts.rollback) {
      throw new RunRefusedError(
        `run ${runId} already ended (${doc.outcome}); there is nothing it can roll back any more`,
      );
    }
    return { ended: doc };
  }
  if (opts.rollback && !parked) {
    // Stopped before its first change (Ctrl-C at the first question): nothing to undo, so rolling back closes it.
    const context = contextOf(envelope);
    const closable = context !== undefined && abandonRefusal(run.state, context) === undefined;
    if (closable && context.settings.kind !== 'power-pages') return { parked, closeInstead: true };
    // Rolling back is a decision taken at a standstill; a run that was interrupted mid-step resumes first.
    throw new RunRefusedError(
      `run ${runId} is not parked (it stopped during ${stateInWords(run.state)}); \`certrotate resume ${runId}\` ` +
        `continues it, and it rolls back by itself if verification fails` +
        (closable ? `; it changed nothing yet, so \`certrotate abandon ${runId}\` closes it` : ''),
    );
  }
  return { parked };
}

/** The document of a run that already ended, read from its snapshot (resume of a finished run is a no-op). */
async function finishedDocument(store: RunStore, runId: string): Promise<RunDocument> {
  const run = describeRun((await store.loadSnapshot(runId))!);
  return {
    formatVersion: 1,
    runId,
    target: run.target,
    outcome: run.outcome,
    oldThumbprint: run.oldThumbprint,
    newThumbprint: run.newThumbprint,
    steps: run.steps,
    state: run.state,
  };
}

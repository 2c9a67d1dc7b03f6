/**
 * The glue between the rotation machine and the world: binds the step activities to the ports with
 * `machine.provide()` (closures, never input or context: both are persisted), starts or restores the actor, persists
 * every snapshot in order, tells its observers what happens (typed run events: the journal is one of them), asks for
 * confirmations and stops at a final or parked state. Storage-agnostic: the runner decides where snapshots and
 * journal lines go.
 */
import { createActor, fromPromise } from 'xstate';
import type { Snapshot, SnapshotFrom } from 'xstate';
import type { PortError } from '../adapters/ports.js';
import { toPortError } from '../adapters/ports.js';
import { outputOf } from '../machines/rotation-context.js';
import { confirmSummary } from '../machines/rotation-policies.js';
import { invocationGuards, rotationMachine } from '../machines/rotation.js';
import { stepOfActor, type StepActor } from '../machines/steps.js';
import type {
  RotationInput,
  RotationOutcome,
  RotationOutput,
  SleepInput,
  StepDone,
  StepFailed,
  StepName,
  StepRecord,
} from '../machines/rotation-types.js';
import { fanOut, type ConfirmedBy, type RunEvent, type RunObserver } from './events.js';
import { journalObserver, type JournalDraft } from './observers/journal.js';
import { activeStep, flattenState, stepInFlight } from './run-view.js';
import { attachKeyCredential } from './steps/attach-key-credential.js';
import { awaitCertificate } from './steps/await-certificate.js';
import { awaitPropagation } from './steps/await-propagation.js';
import { detectPlatformKey } from './steps/detect-platform-key.js';
import { generateCertificate } from './steps/generate-certificate.js';
import { installServerKey } from './steps/install-server-key.js';
import { observeTarget } from './steps/observe-target.js';
import { retireOldKey } from './steps/retire-old-key.js';
import { rollBackRotation } from './steps/roll-back-rotation.js';
import type { RotationPorts } from '../adapters/rotation-ports.js';
import type { StepContext } from './steps/step-ports.js';
import { verifyNewKey } from './steps/verify-new-key.js';
import { withdrawAdditions } from './steps/withdraw-additions.js';

export type { RotationPorts } from '../adapters/rotation-ports.js';
export { flattenState, stepInFlight } from './run-view.js';

/** What a step that answered "not yet" waits for (the catalogue's waiting-for text replaces this too). */
const WAITING_FOR: Partial<Record<StepName, string>> = {
  generateCertificate: 'Key Vault to issue the new certificate version',
  detectPlatformKey: "the platform's new key on the app (Update key in the admin center)",
};

/**
 * A step result that says "not there yet": Key Vault's create still `pending`, the platform's key `notYet`. The
 * machine looks again; the step has not finished, so this is a `waiting`, never a `stepDone`.
 */
function saysNotYet(result: unknown): boolean {
  const status = (result as { status?: unknown } | null)?.status;
  return status === 'pending' || status === 'notYet';
}

/** How to drive one run. */
export interface DriveOptions {
  ports: RotationPorts;
  /** A new run. */
  input?: RotationInput;
  /** Or a persisted snapshot to resume (`actor.getPersistedSnapshot()`); the step active in it re-runs. */
  snapshot?: unknown;
  /** Send RESUME after restoring a parked run. */
  resumeEvent?: boolean;
  /** Send ROLLBACK after restoring a parked run (`rollback RUN_ID`). */
  rollbackEvent?: boolean;
  /**
   * Send ABANDON after restoring (`abandon RUN_ID`): the run closes if it changed nothing; if the machine refuses,
   * the drive stops at once (status `interrupted`) and nothing runs.
   */
  abandonEvent?: boolean;
  /**
   * Guided mode: asked before each mutating step. Absent = this invocation confirms everything itself (`--yes` or a
   * saved plan), whatever earlier invocations of the run did: the machine waits at every gate either way.
   */
  confirm?: (step: string, summary: string) => Promise<boolean>;
  /** Without `confirm`: what answers the gates, for the journal (default `yes`). */
  confirmedBy?: Exclude<ConfirmedBy, 'operator'>;
  /** Called after every snapshot, awaited and in order. A rejection stops the run. */
  onSnapshot: (persisted: unknown, info: { state: string; status: string }) => Promise<void>;
  /** The journal's sink: each event's audit lines (see `observers/journal.ts`), in order. */
  onJournal?: (entry: JournalDraft) => void | Promise<void>;
  /** Everything else that follows the run (progress lines, the guided screen), after the journal. */
  observers?: readonly RunObserver[];
  /** Ctrl-C: stop now, leaving the last persisted snapshot to resume from (every step is re-runnable, I3). */
  signal?: AbortSignal;
  /**
   * Stop at the next step boundary: the step at work finishes its call, and no further step starts (the target's
   * lock was lost, so another process may drive the target; a write in flight is never cut off).
   */
  stopBeforeNextStep?: AbortSignal;
}

/** What a drive ends with. */
export interface RotationResult extends Omit<RotationOutput, 'outcome'> {
  /** The outcome; null when the drive was interrupted before a final or parked state. */
  outcome: RotationOutcome | null;
  /** `final`, `parked` or `interrupted`. */
  status: 'final' | 'parked' | 'interrupted';
  /** The machine's state, flattened: `verifying.backingOff`. */
  state: string;
}

type RotationSnapshot = SnapshotFrom<typeof rotationMachine>;

/** What the last step invocation ended with, until the machine's next snapshot says what it means. */
type Landed =
  | { kind: 'done'; step: StepName; endedAt: number; result: unknown }
  | { kind: 'failed'; step: StepName; endedAt: number; attempt: number; error: PortError };

/** Runs (or resumes) a rotation until it ends, parks, or is interrupted. */
export async function driveRotation(opts: DriveOptions): Promise<RotationResult> {
  const { ports } = opts;
  const clock = ports.clock;
  if (!opts.input && opts.snapshot === undefined) throw new Error('driveRotation needs input or snapshot');

  const observers = fanOut([...(opts.onJournal ? [journalObserver(opts.onJournal)] : []), ...(opts.observers ?? [])]);
  let persisted: Promise<void> = Promise.resolve();
  let stopped = false;
  let persistError: unknown;
  // The first step that runs after a restore may be repeating work whose result never reached the snapshot — but
  // only when the snapshot shows that step in flight. A run restored from a park or a confirmation starts its next
  // step afresh (retries after a backoff sleep are known to the steps by their attempt number).
  let rerunPending = opts.snapshot !== undefined && stepInFlight(opts.snapshot);
  let thumbprints: { oldThumbprint?: string; newThumbprint?: string } = {};
  // The step at work and where it stands: a start after its `retrying` or `waiting` is another attempt or look of
  // the same step, not a new step.
  let open: { step: StepName; phase: 'running' | 'retrying' | 'waiting'; since: number } | undefined;
  let landed: Landed | undefined;

  type EventBody = RunEvent extends infer E
    ? E extends RunEvent
      ? Omit<E, 'at' | keyof typeof thumbprints>
      : never
    : never;
  /** Tells the observers; `at` is now unless the event happened earlier (a step's end, reported once the machine took it). */
  const emit = (event: EventBody, at = clock.now()) => {
    observers.onEvent({ at, ...thumbprints, ...event } as RunEvent);
  };

  // Assigned below; the step activities only run once the actor exists.
  let currentAttempt = () => 1;
  let stopAtBoundary = () => undefined as void;

  const step = <TInput, TResult>(
    actorName: StepActor,
    activity: (ports: RotationPorts, input: TInput, step: StepContext) => Promise<TResult>,
  ) =>
    fromPromise<StepDone<TResult>, TInput>(async ({ input, signal }) => {
      const name = stepOfActor(actorName);
      // Outbox order: let the snapshot that shows this step active reach storage before the step acts, so a crash
      // during the step resumes into this step (which re-runs, observing first) and never past it.
      await Promise.resolve();
      await persisted;
      // The machine left this state meanwhile (an ABANDON right after a restore, a stop): its step must not act.
      if (signal.aborted) throw { error: toPortError(signal.reason), startedAt: clock.now(), endedAt: clock.now() };
      // A step boundary: nothing of this step has happened yet. A run that must stop (its snapshot could not be
      // written, or its lock was lost) stops here, before acting; the stopped actor ignores this promise.
      if (!stopped && opts.stopBeforeNextStep?.aborted) stopAtBoundary();
      if (stopped) return new Promise<never>(() => undefined);
      const rerun = rerunPending;
      rerunPending = false;
      const attempt = currentAttempt();
      const previousError = attempt > 1 ? actor.getSnapshot().context.lastError : undefined;
      if (open?.step === name && open.phase !== 'running') {
        emit({ type: 'attemptStarted', step: name, attempt, after: open.phase });
      } else {
        emit({ type: 'stepStarted', step: name, attempt, rerun });
      }
      const startedAt = clock.now();
      open = { step: name, phase: 'running', since: open?.step === name ? open.since : startedAt };
      try {
        const result = await activity(ports, input, {
          signal,
          rerun,
          ...(previousError ? { previousError } : {}),
          // A wait inside the step (the read-lag window) is said as it starts, with what it waits for and until when.
          onWaiting: (wait) =>
            emit({ type: 'waiting', step: name, for: wait.for, until: wait.until, result: undefined, inStep: true }),
        });
        const endedAt = clock.now();
        landed = { kind: 'done', step: name, endedAt, result };
        return { result, startedAt, endedAt };
      } catch (thrown) {
        const error = toPortError(thrown);
        const endedAt = clock.now();
        landed = { kind: 'failed', step: name, endedAt, attempt, error };
        const failed: StepFailed = { error, startedAt, endedAt };
        throw failed;
      }
    });

  const machine = rotationMachine.provide({
    // The invocation's mode, never the run's: a persisted `--yes` would let a guided resume change things unasked.
    guards: invocationGuards({ unattended: opts.confirm === undefined }),
    actors: {
      observeTarget: step('observeTarget', observeTarget),
      generateCertificate: step('generateCertificate', generateCertificate),
      awaitCertificate: step('awaitCertificate', awaitCertificate),
      attachKeyCredential: step('attachKeyCredential', attachKeyCredential),
      awaitPropagation: step('awaitPropagation', awaitPropagation),
      installServerKey: step('installServerKey', installServerKey),
      detectPlatformKey: step('detectPlatformKey', detectPlatformKey),
      verifyNewKey: step('verifyNewKey', verifyNewKey),
      retireOldKey: step('retireOldKey', retireOldKey),
      rollBackRotation: step('rollBackRotation', rollBackRotation),
      withdrawAdditions: step('withdrawAdditions', withdrawAdditions),
      // Deadline-based: a restored run sleeps only for what is left of the wait.
      sleepUntil: fromPromise<void, SleepInput>(async ({ input, signal }) => {
        const remaining = input.until - clock.now();
        if (remaining > 0) await clock.sleep(remaining, signal);
      }),
    },
  });

  // XState ignores `input` when restoring from a snapshot; the types still ask for one.
  const actor = createActor(machine, {
    input: opts.input ?? ({} as RotationInput),
    ...(opts.snapshot !== undefined ? { snapshot: opts.snapshot as Snapshot<unknown> } : {}),
  });
  currentAttempt = () => actor.getSnapshot().context.attempt;

  /**
   * Says what the step invocation that just ended means, now that the machine has taken its result. Dated at the
   * step's end: the machine may already be sleeping toward its next look or attempt.
   */
  const report = (l: Landed, snapshot: RotationSnapshot) => {
    const ctx = snapshot.context;
    const record = ctx.steps.findLast((s) => s.name === l.step);
    if (l.kind === 'done' && saysNotYet(l.result)) {
      open = { step: l.step, phase: 'waiting', since: open?.since ?? l.endedAt };
      const parked = snapshot.hasTag('parked');
      emit(
        {
          type: 'waiting',
          step: l.step,
          for: WAITING_FOR[l.step] ?? `${l.step} to finish`,
          ...(!parked && ctx.waitDeadline !== undefined ? { until: ctx.waitDeadline } : {}),
          ...(!parked && ctx.retryAt !== undefined ? { nextAt: ctx.retryAt } : {}),
          result: l.result,
        },
        l.endedAt,
      );
    } else if (l.kind === 'done') {
      open = undefined;
      emit(
        {
          type: 'stepDone',
          step: l.step,
          result: l.result,
          attempts: record?.attempts ?? 1,
          skipped: record?.status === 'skipped',
        },
        l.endedAt,
      );
    } else if (snapshot.hasTag('backoff')) {
      open = { step: l.step, phase: 'retrying', since: open?.since ?? l.endedAt };
      const until = ctx.retryAt ?? l.endedAt;
      emit(
        {
          type: 'retrying',
          step: l.step,
          failedAttempt: l.attempt,
          attempt: ctx.attempt,
          waitMs: Math.max(0, until - l.endedAt),
          until,
          code: l.error.code,
          error: l.error,
        },
        l.endedAt,
      );
    } else {
      open = undefined;
      emit({ type: 'stepFailed', step: l.step, attempts: record?.attempts ?? l.attempt, error: l.error }, l.endedAt);
    }
  };

  return new Promise<RotationResult>((resolve, reject) => {
    let ready = false;
    let askedFor: string | undefined;
    let lastState = '';

    /**
     * The step at work when the run stopped: the one whose actor is active (it may not have begun its body yet).
     * Undefined at a question, a park or a backoff sleep.
     */
    const stepAtWork = (): { step: StepName; since: number } | undefined => {
      if (open?.phase === 'running') return { step: open.step, since: open.since };
      const step = activeStep(actor.getPersistedSnapshot());
      return step ? { step, since: clock.now() } : undefined;
    };
    let interruptedStep: { step: StepName; since: number } | undefined;

    const finish = (status: RotationResult['status']) => {
      if (stopped) return;
      stopped = true;
      const snapshot = actor.getSnapshot();
      actor.stop();
      void Promise.all([persisted, observers.flush()]).then(() => {
        if (persistError !== undefined) return reject(persistError);
        const output = outputOf(snapshot.context);
        resolve({
          ...output,
          // The step at work when Ctrl-C came is still running (its record may say what an earlier invocation left:
          // `declined` before the operator said yes this time); it re-runs on resume.
          steps: interruptedStep ? withRunningStep(output.steps, interruptedStep) : output.steps,
          outcome: status === 'interrupted' ? null : output.outcome,
          status,
          state: flattenState(snapshot.value),
        });
      });
    };

    const onAbort = () => {
      if (stopped) return;
      interruptedStep = stepAtWork();
      emit({ type: 'interrupted', state: lastState, ...(interruptedStep ? { step: interruptedStep.step } : {}) });
      finish('interrupted');
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // At a step boundary, for a lost lock: no step is at work, and the operator did not ask for it.
    stopAtBoundary = () => {
      if (stopped) return;
      emit({
        type: 'interrupted',
        state: lastState,
        why: 'the target’s lock was lost, so it stopped before its next step',
      });
      finish('interrupted');
    };

    const settle = (snapshot: RotationSnapshot) => {
      if (stopped || !ready) return;
      const ctx = snapshot.context;
      if (snapshot.status === 'done') {
        emit({
          type: 'ended',
          runId: ctx.settings.runId,
          // A final state always records its outcome; `failed` is what a final state without one would mean.
          outcome: ctx.outcome ?? 'failed',
          state: lastState,
          ...(ctx.failure
            ? { failure: { step: ctx.failure.step, code: ctx.failure.error.code, message: ctx.failure.message } }
            : {}),
          ...(ctx.note ? { note: ctx.note } : {}),
        });
        return finish('final');
      }
      if (snapshot.status === 'error') {
        stopped = true;
        return reject(snapshot.error instanceof Error ? snapshot.error : new Error(JSON.stringify(snapshot.error)));
      }
      if (snapshot.hasTag('parked')) {
        emit({
          type: 'parked',
          state: lastState,
          message: ctx.park?.message ?? ctx.outcome ?? '',
          outcome: ctx.outcome ?? 'awaitingOperator',
          ...(ctx.park?.reason ? { reason: ctx.park.reason } : {}),
        });
        return finish('parked');
      }
      if (snapshot.hasTag('confirm')) {
        const state = flattenState(snapshot.value);
        if (askedFor === state) return;
        askedFor = state;
        const stepState = state.split('.')[0] ?? state;
        void ask(stepState, confirmSummary(ctx, stepState));
      } else {
        askedFor = undefined;
      }
    };

    const ask = async (stepState: string, summary: string) => {
      emit({ type: 'confirmRequested', step: stepState, summary });
      // Without a confirm callback this invocation answers itself (`--yes`, a plan), and the journal says so.
      const by: ConfirmedBy = opts.confirm ? 'operator' : (opts.confirmedBy ?? 'yes');
      let yes = true;
      if (opts.confirm) {
        try {
          yes = await opts.confirm(stepState, summary);
        } catch {
          yes = false;
        }
      }
      if (stopped) return;
      emit({ type: yes ? 'confirmed' : 'declined', step: stepState, summary, by });
      actor.send(yes ? { type: 'CONFIRM' } : { type: 'DECLINE', now: clock.now() });
    };

    actor.subscribe({
      next: (snapshot) => {
        if (stopped) return;
        const state = flattenState(snapshot.value);
        thumbprints = {
          ...(snapshot.context.oldThumbprint ? { oldThumbprint: snapshot.context.oldThumbprint } : {}),
          ...(snapshot.context.newThumbprint ? { newThumbprint: snapshot.context.newThumbprint } : {}),
        };
        lastState = state;
        const l = landed;
        landed = undefined;
        if (l) report(l, snapshot);
        const persistedSnapshot = actor.getPersistedSnapshot();
        const info = { state, status: snapshot.status };
        persisted = persisted.then(async () => {
          if (persistError !== undefined) return;
          try {
            await opts.onSnapshot(persistedSnapshot, info);
          } catch (error) {
            // Without a durable snapshot the run must not go on acting: stop here; the last good one resumes.
            persistError = error;
            finish('interrupted');
          }
        });
        settle(snapshot);
      },
      error: (error) => {
        if (stopped) return;
        stopped = true;
        reject(error);
      },
    });

    actor.start();
    if (opts.snapshot !== undefined && opts.abandonEvent) {
      actor.send({ type: 'ABANDON' });
      // Abandoning never drives a run on: refused (it changed something), it stops right here.
      if (actor.getSnapshot().status !== 'done') {
        ready = true;
        return finish('interrupted');
      }
    } else if (opts.snapshot !== undefined && opts.rollbackEvent) actor.send({ type: 'ROLLBACK' });
    else if (opts.snapshot !== undefined && opts.resumeEvent) actor.send({ type: 'RESUME', now: clock.now() });
    ready = true;
    settle(actor.getSnapshot());
  });
}

/** The steps with `at.step`'s open record (or a new one) marked running since `at.since`, without an end. */
function withRunningStep(steps: StepRecord[], at: { step: StepName; since: number }): StepRecord[] {
  const index = steps.findLastIndex((s) => s.name === at.step && s.status !== 'succeeded' && s.status !== 'skipped');
  const record: StepRecord = {
    ...(index === -1 ? { attempts: 1 } : steps[index]!),
    name: at.step,
    status: 'running',
    startedAt: new Date(at.since).toISOString(),
    detail: 'interrupted; the step re-runs on resume',
  };
  delete record.endedAt;
  return index === -1 ? [...steps, record] : steps.map((s, i) => (i === index ? record : s));
}

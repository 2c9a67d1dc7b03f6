/**
 * Builders for the shapes the rotation chart repeats: a step's states (`gatedStep`: confirming → working →
 * backingOff; `retriedStep`: working → backingOff), the gate before a mutating step, the deadline sleeps, the
 * retry-or-fail branches of a step's `onError`, parks, resume branches and final states, and the params
 * pickers their guards and actions share.
 *
 * Each builder returns a new plain config fragment with literal names (`as const`), built exactly as the chart wrote
 * it inline before (test/unit/machines/rotation-structure.test.ts pins that). It is typed here only by what it reads
 * (`{ event: { error: unknown } }`, …); `setup()` checks every guard, action and actor name and every param where the
 * fragment is placed in `createMachine`, so a fragment cannot name something the machine does not have.
 * Pure like the rest of src/machines: no I/O, only the chart's own helpers. The params pickers only read the event,
 * so XState may evaluate them any number of times (a restored run re-evaluates nothing, a re-run step evaluates again).
 */
import { parkMessages } from './park-messages.js';
import { asStepFailed } from './rotation-backoff.js';
import { describeError } from './rotation-context.js';
import type {
  ParkInfo,
  ResumeTarget,
  RotationContext,
  RotationOutcome,
  StepDone,
  StepFailed,
  StepName,
} from './rotation-types.js';

/** What the onDone of every step actor carries: its {@link StepDone}. */
interface DoneArgs<TResult> {
  event: { output: StepDone<TResult> };
}

/** What the onError of every step actor carries: whatever it rejected with (normally a {@link StepFailed}). */
interface ErrorArgs {
  event: { error: unknown };
}

/** Params `{ result }` of a done step, for the guards and `record*` actions that read its result. */
export function resultOf<TResult>({ event }: DoneArgs<TResult>): { result: TResult } {
  return { result: event.output.result };
}

/** Params `{ at }`: when a done step ended, for the actions that start a clock or record a time from it. */
export function endedAtOf({ event }: { event: { output: { endedAt: number } } }): { at: number } {
  return { at: event.output.endedAt };
}

/** Params `{ done }`: the whole done output, for what needs its times as well as its result. */
export function doneOf<TResult>({ event }: DoneArgs<TResult>): { done: StepDone<TResult> } {
  return { done: event.output };
}

/** Params `{ status }`: the status a done step's result reports (`serverIsManual`). */
export function statusOf<TStatus>({ event }: DoneArgs<{ status: TStatus }>): { status: TStatus } {
  return { status: event.output.result.status };
}

/** Params `{ at }`: the `now` a RESUME carries, for the clocks a resumed wait starts from. */
export function nowOf({ event }: { event: { now: number } }): { at: number } {
  return { at: event.now };
}

/** Params `{ step, failed }` of a failed step, for `shouldRetry`, `scheduleRetry` and `stepFailed`. */
function failureOf(step: StepName) {
  return ({ event }: ErrorArgs): { step: StepName; failed: StepFailed } => ({
    step,
    failed: asStepFailed(event.error),
  });
}

/**
 * A `stepSucceeded` or `stepProgressed` action for `step` whose record reads the done result (`detail`, `skipped`).
 * Safe to re-run: it updates the step's open record instead of appending another.
 */
export function recordStep<
  const TType extends 'stepSucceeded' | 'stepProgressed',
  TResult,
  const TRecord extends object,
>(type: TType, step: StepName, record: (result: TResult, context: RotationContext) => TRecord) {
  return {
    type,
    params: ({ context, event }: { context: RotationContext } & DoneArgs<TResult>) => ({
      step,
      done: event.output,
      ...record(event.output.result, context),
    }),
  } as const;
}

/**
 * The `stepSucceeded` action closing `step`'s record with the done event's times (and `detail` when given). Safe to
 * re-run: it updates the step's open record instead of appending another.
 */
export function stepSucceeded(step: StepName, detail?: string) {
  return {
    type: 'stepSucceeded',
    params: ({ event }: DoneArgs<unknown>) => ({
      step,
      done: event.output,
      ...(detail !== undefined ? { detail } : {}),
    }),
  } as const;
}

/**
 * The first branch of every step's `onError`: a retryable failure with attempts (or verify time) left records the
 * retry and goes to the sibling `backingOff`, which comes back to the step. Safe to re-run because every step
 * observes before it acts (I3): the next attempt sees what the failed one may have done.
 */
export function retryAfterBackoff(step: StepName) {
  return {
    guard: { type: 'shouldRetry', params: failureOf(step) },
    target: 'backingOff',
    actions: { type: 'scheduleRetry', params: failureOf(step) },
  } as const;
}

/**
 * The last branch of a step's `onError`: record the failure (with its message for a person) and go to `target`.
 * Safe to re-run: it only records; `failed` is final, and rollback observes before it undoes anything.
 */
export function failStep<const TTarget extends '#rotation.failed' | '#rotation.rollingBack'>(
  step: StepName,
  target: TTarget,
) {
  return { target, actions: { type: 'stepFailed', params: failureOf(step) } } as const;
}

/**
 * A step's whole `onError` when it only retries or fails: {@link retryAfterBackoff}, then {@link failStep}, in that
 * order (a retryable failure with attempts left never fails the run). Safe to re-run for the reasons of both.
 */
export function retryOrFail<const TTarget extends '#rotation.failed' | '#rotation.rollingBack'>(
  step: StepName,
  failTarget: TTarget,
) {
  return [retryAfterBackoff(step), failStep(step, failTarget)] as const;
}

/**
 * The `park` action after a step finished but needs a person (`info` says what to do), stamped with the step's end.
 * Safe to re-run: parking only records; the step it names runs again, from the start, on RESUME.
 */
export function parkAfterStep(step: StepName, info: (context: RotationContext) => ParkInfo) {
  return {
    type: 'park',
    params: ({ context, event }: { context: RotationContext } & DoneArgs<unknown>) => ({
      info: info(context),
      step,
      at: event.output.endedAt,
    }),
  } as const;
}

/**
 * The `park` action after a step failed in a way a person must look at, stamped with the failure's end; `info` gets
 * the failure as one line ({@link describeError}) to quote.
 */
export function parkAfterFailure(step: StepName, info: (context: RotationContext, why: string) => ParkInfo) {
  return {
    type: 'park',
    params: ({ context, event }: { context: RotationContext } & ErrorArgs) => {
      const failed = asStepFailed(event.error);
      return { info: info(context, describeError(failed.error)), step, at: failed.endedAt };
    },
  } as const;
}

/**
 * The gate before a mutating step: the machine always waits here; CONFIRM goes on, DECLINE parks with `parkInfo`
 * (stamped with the event's `now` when it has one). Whether anyone is asked is the invocation's business, never the
 * run's: the driver answers CONFIRM itself for `--yes` (and journals that it did), so a guided `resume` of a run
 * started with `--yes` asks again. Safe to re-run: the gate changes nothing in the world, and a restored run waiting
 * here simply asks (or is answered) again.
 */
export function confirmingState<const TNext extends string>(options: {
  title: string;
  next: TNext;
  step: StepName;
  parkInfo: (context: RotationContext, reason: string | undefined) => ParkInfo;
  /** The gate before the run's first change: a run interrupted here can be abandoned ({@link abandoning}). */
  abandonable?: boolean;
}) {
  const { title, next, step, parkInfo } = options;
  return {
    tags: ['confirm'],
    meta: { title },
    on: {
      ...(options.abandonable ? abandoning() : {}),
      CONFIRM: next,
      DECLINE: {
        target: '#rotation.awaitingOperator',
        actions: {
          type: 'park',
          params: ({ context, event }: { context: RotationContext; event: { reason?: string; now?: number } }) => ({
            info: parkInfo(context, event.reason),
            step,
            ...(event.now !== undefined ? { at: event.now } : {}),
          }),
        },
      },
    },
  } as const;
}

/**
 * The `ABANDON` transition of a state a run that changed nothing may be closed from (src/machines/abandonment.ts
 * lists them): to `abandoned`, guarded by `changedNothing`. Safe: it changes nothing in the world, and a run that did
 * change something is refused (it stays where it is; rollback or resume deals with it).
 */
export function abandoning() {
  return {
    ABANDON: { guard: 'changedNothing', target: '#rotation.abandoned', actions: 'noteAbandoned' },
  } as const;
}

/**
 * The branch of a verification's `onError` after its retries: a failure that is a service outage (5xx, no answer,
 * throttled: `serviceUnreachable`), not an answer about the key, parks the run as `serviceUnavailable` to resume to
 * `resumeTo`, instead of rolling back (an outage must not swap the server's key twice). Safe to re-run: parking only
 * records, and the step it resumes to only reads.
 */
export function parkWhenUnreachable(step: StepName, resumeTo: 'verifying' | 'attaching.propagating') {
  return {
    guard: { type: 'serviceUnreachable', params: failureOf(step) },
    target: '#rotation.awaitingOperator',
    actions: [
      parkAfterFailure(step, (context, why) => parkMessages.serviceUnavailable(context, why, resumeTo)),
      'resetAttempts',
    ],
  } as const;
}

/**
 * A RESUME branch of `awaitingOperator`: when the park says to resume to `target`, clear the park and go there, then
 * run `also` (the clock a resumed wait starts). Safe to re-run: the target state starts its step from the beginning,
 * and every step observes before it acts.
 */
export function resumingTo<const TTarget extends ResumeTarget, const TAlso extends readonly unknown[]>(
  target: TTarget,
  ...also: TAlso
) {
  return { guard: { type: 'resumesTo', params: { target } }, target, actions: ['unpark', ...also] } as const;
}

/** Where a sleep goes when it ends: a sibling state, or guarded branches choosing one. */
type WakeTo = string | readonly { guard?: string; target: string }[];

/**
 * A deadline sleep (`sleepUntil` until `context.retryAt`), then `wakeTo` whether the sleep ended or failed: waits are
 * promise actors, not `after` timers, because timers are lost on restore. Safe to re-run: `retryAt` is stored before
 * the state is entered, so a restored run sleeps only what is left.
 */
export function sleepingState<const TWake extends WakeTo>(tag: 'backoff' | 'waiting', title: string, wakeTo: TWake) {
  return {
    tags: [tag],
    meta: { title },
    invoke: {
      id: 'sleepUntil',
      src: 'sleepUntil',
      input: ({ context }: { context: RotationContext }) => ({ until: context.retryAt ?? 0 }),
      onDone: wakeTo,
      onError: wakeTo,
    },
  } as const;
}

/** A step's `backingOff`: the {@link sleepingState} its {@link retryAfterBackoff} branch goes to. */
export function backingOffState<const TWake extends WakeTo>(title: string, wakeTo: TWake) {
  return sleepingState('backoff', title, wakeTo);
}

/**
 * A top-level final state: the run ends here with `outcome`. Safe to re-run: entering it only records the outcome, and
 * a restored final snapshot does not run entry actions again.
 */
export function finalState<const TOutcome extends RotationOutcome>(outcome: TOutcome, title: string) {
  return {
    type: 'final',
    tags: ['final'],
    meta: { title },
    entry: { type: 'setOutcome', params: { outcome } },
  } as const;
}

/** The tags of a step's working state: every one is a `step`; those that remove keys are also `destructive`. */
type WorkTags = readonly ['step'] | readonly ['step', 'destructive'];

/**
 * A step's working state: it invokes the step's actor (`invoke`, with its onDone and onError branches). Safe to
 * re-run: a restored run starts the actor again from the beginning, and every step observes before it acts (I3).
 */
export function workingState<const TInvoke, const TTags extends WorkTags = readonly ['step']>(
  title: string,
  invoke: TInvoke,
  tags?: TTags,
) {
  return { tags: tags ?? (['step'] as const), meta: { title }, invoke } as const;
}

/** A step's `backingOff`: its title, and where it wakes to when that is not simply `running`. */
type BackingOff<TWake extends WakeTo> = string | { title: string; wakeTo: TWake };

function backingOffOf<TWake extends WakeTo>(backingOff: BackingOff<TWake>) {
  return typeof backingOff === 'string'
    ? backingOffState(backingOff, 'running')
    : backingOffState(backingOff.title, backingOff.wakeTo);
}

/**
 * A step that only retries: its working states (`states`, in order; the first is the initial one), then the
 * `backingOff` its {@link retryAfterBackoff} branches go to. Safe to re-run for the reasons of {@link workingState} and
 * {@link sleepingState}.
 */
export function retriedStep<
  const TStates extends Record<string, unknown>,
  const TWake extends WakeTo = 'running',
>(options: { title: string; states: TStates; backingOff: BackingOff<TWake> }) {
  const initial = Object.keys(options.states)[0] ?? 'running';
  return {
    meta: { title: options.title },
    initial,
    states: { ...options.states, backingOff: backingOffOf(options.backingOff) },
  } as const;
}

/**
 * A mutating step, the shape every one of them has: `confirming` (the guided-mode gate, {@link confirmingState}),
 * its working states (`states`, in order; CONFIRM goes to the first), then `backingOff`. Safe to re-run: the gate
 * changes nothing, and the working states and the sleep are safe to re-run themselves.
 */
export function gatedStep<
  const TStates extends Record<string, unknown>,
  const TWake extends WakeTo = 'running',
>(options: {
  title: string;
  gate: {
    title: string;
    step: StepName;
    parkInfo: (context: RotationContext, reason: string | undefined) => ParkInfo;
    abandonable?: boolean;
  };
  states: TStates;
  backingOff: BackingOff<TWake>;
}) {
  const { title, gate, states, backingOff } = options;
  const next = Object.keys(states)[0] ?? 'running';
  return {
    meta: { title },
    initial: 'confirming',
    states: {
      confirming: confirmingState({ ...gate, next }),
      ...states,
      backingOff: backingOffOf(backingOff),
    },
  } as const;
}

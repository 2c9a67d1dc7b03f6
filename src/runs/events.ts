/**
 * Typed run events: what the driver (and the runner, for a run's start and resume) tells its observers while a run
 * goes on. The journal, the progress lines and the guided screen are observers of this one stream; none of them
 * reads another's output back. Events carry ids, thumbprints, codes and times only (I4): never key material.
 */
import type { PortError } from '../adapters/ports.js';
import type { ParkReason, RotationOutcome, StepName } from '../machines/rotation-types.js';

/** How certrotate was invoked for this part of a run: the audit trail's "who typed what". */
export interface Invocation {
  /** `rotate` starts a run; `resume` and `rollback` continue one; `abandon` closes one that changed nothing. */
  mode: 'rotate' | 'resume' | 'rollback' | 'abandon';
  /** The command line as typed (after `certrotate`), secrets redacted. */
  argv: string[];
  /** `--yes`, `--plan`, or guided (asked before each change). */
  confirmation: 'yes' | 'plan' | 'guided';
  /** `rotate --plan FILE`: the plan file, as given. */
  planFile?: string;
  /** `rotate --plan FILE`: the approved plan's fingerprint. */
  planFingerprint?: string;
  /** `rotate --force`: rotate although the key is not due. */
  force?: boolean;
}

/** The fields every event has. */
export interface RunEventBase {
  /** Epoch ms (the run's clock). */
  at: number;
  /** The run's keys as far as they are known when the event happens. */
  oldThumbprint?: string;
  newThumbprint?: string;
}

/** A run starts (`rotate`). */
export interface RunStartedEvent extends RunEventBase {
  type: 'runStarted';
  /** The target's name. */
  target: string;
  invocation: Invocation;
}

/** A parked or interrupted run continues (`resume`), is sent back (`rollback`) or closed (`abandon`). */
export interface RunResumedEvent extends RunEventBase {
  type: 'runResumed';
  invocation: Invocation;
}

/** A step begins. Once per step per drive; its later attempts and polls are {@link AttemptStartedEvent}s. */
export interface StepStartedEvent extends RunEventBase {
  type: 'stepStarted';
  step: StepName;
  /** The step's attempt (1-based): above 1 when a run restored in a retry wait starts it again. */
  attempt: number;
  /** The step was in flight when the previous process stopped: this may repeat work whose result was lost. */
  rerun: boolean;
}

/** A step runs again: after a `retrying` wait (a new attempt) or after a `waiting` (another look). */
export interface AttemptStartedEvent extends RunEventBase {
  type: 'attemptStarted';
  step: StepName;
  /** The step's attempt (1-based); unchanged by a poll after `waiting`. */
  attempt: number;
  after: 'retrying' | 'waiting';
}

/** An attempt failed with a retryable error, and the run waits before the next one. */
export interface RetryingEvent extends RunEventBase {
  type: 'retrying';
  step: StepName;
  /** The attempt that failed. */
  failedAttempt: number;
  /** The attempt that runs after the wait. */
  attempt: number;
  waitMs: number;
  /** Epoch ms the next attempt starts. */
  until: number;
  /** The failure's code, e.g. `keyNotFound`. */
  code: string;
  error: PortError;
}

/** A step ran, and its result says "not there yet": the run looks again (Key Vault `pending`, platform `notYet`). */
export interface WaitingEvent extends RunEventBase {
  type: 'waiting';
  step: StepName;
  /** What the run waits for, in words. */
  for: string;
  /** Epoch ms the wait gives up (then the run parks), when it has a deadline. */
  until?: number;
  /** Epoch ms of the next look, when the run sleeps before it. */
  nextAt?: number;
  /** The step's result (plain JSON, ids and thumbprints only); absent for a wait inside the step. */
  result: unknown;
  /** The wait is inside the step (Graph's read-lag window before it trusts a read), not a "not yet" result. */
  inStep?: true;
}

/** A step finished its work. Exactly once per step that finishes. */
export interface StepDoneEvent extends RunEventBase {
  type: 'stepDone';
  step: StepName;
  /** The step's result (plain JSON, ids and thumbprints only). */
  result: unknown;
  /** Attempts it took. */
  attempts: number;
  /** The step found its work already done (an earlier run or attempt did it). */
  skipped: boolean;
}

/** A step failed and is not retried: the run rolls back, parks or fails. */
export interface StepFailedEvent extends RunEventBase {
  type: 'stepFailed';
  step: StepName;
  attempts: number;
  error: PortError;
}

/** The run waits for an operator's yes before a mutating step. */
export interface ConfirmRequestedEvent extends RunEventBase {
  type: 'confirmRequested';
  /** The machine state that asks, e.g. `attaching`. */
  step: string;
  /** What the step will change. */
  summary: string;
}

/** Who answered a gate: the operator at the terminal, or this invocation's `--yes` or saved plan. */
export type ConfirmedBy = 'operator' | 'yes' | 'plan';

/** The answer at a gate: the operator's, or `--yes` / the plan of this invocation (never an earlier one's). */
export interface ConfirmAnsweredEvent extends RunEventBase {
  type: 'confirmed' | 'declined';
  step: string;
  summary: string;
  by: ConfirmedBy;
}

/** The run stopped at a park: it waits for a person or a grace period, and `resume` continues it. */
export interface ParkedEvent extends RunEventBase {
  type: 'parked';
  /** The state it parked in. */
  state: string;
  reason?: ParkReason;
  message: string;
  outcome: RotationOutcome;
}

/** Ctrl-C (or a lost snapshot write): the run stopped where it was and resumes from its last snapshot. */
export interface InterruptedEvent extends RunEventBase {
  type: 'interrupted';
  /** The state it stopped in. */
  state: string;
  /** The step at work when it stopped (it re-runs on resume); absent at a question, a park or a retry wait. */
  step?: StepName;
  /** Why, when the operator did not ask for it: the target's lock was lost, so it stopped before its next step. */
  why?: string;
}

/** The run reached a final state. */
export interface EndedEvent extends RunEventBase {
  type: 'ended';
  /** The run's id, for the closing line. */
  runId: string;
  outcome: RotationOutcome;
  /** The final state (named like the outcome). */
  state: string;
  failure?: { step: StepName; code: string; message: string };
  note?: string;
}

/** Everything a run tells its observers. */
export type RunEvent =
  | RunStartedEvent
  | RunResumedEvent
  | StepStartedEvent
  | AttemptStartedEvent
  | RetryingEvent
  | WaitingEvent
  | StepDoneEvent
  | StepFailedEvent
  | ConfirmRequestedEvent
  | ConfirmAnsweredEvent
  | ParkedEvent
  | InterruptedEvent
  | EndedEvent;

/** The event of a given type. */
export type RunEventOf<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;

/**
 * Something that follows a run: the journal, progress lines, the guided screen, later a notifier. Called
 * synchronously and in order for every event, so a screen is up to date when the next question is asked.
 */
export interface RunObserver {
  /** Must not throw (a throw is caught and ignored: an observer never stops a rotation). Slow work goes in `flush`. */
  onEvent(event: RunEvent): void;
  /** Resolves once everything the observer started for past events is done (the journal's writes). */
  flush?(): Promise<void>;
}

/** Sends each event to every observer; one that throws is skipped for that event. */
export function fanOut(observers: readonly RunObserver[]): Required<RunObserver> {
  return {
    onEvent(event) {
      for (const o of observers) {
        try {
          o.onEvent(event);
        } catch {
          // An observer's bug must not stop a half-done rotation; the journal observer keeps the record.
        }
      }
    },
    async flush() {
      await Promise.all(observers.map((o) => o.flush?.().catch(() => undefined)));
    },
  };
}

/**
 * Context construction and the pure updates the machine's actions make. Kept apart from the statechart so the
 * chart reads as states and transitions.
 */
import type { PortError } from '../adapters/ports.js';
import { backoffDelay, retryPolicyOf } from './rotation-backoff.js';
import { DEFAULT_RESUME_TIMEOUT_MS } from './rotation-types.js';
import type {
  ParkInfo,
  RotationContext,
  RotationInput,
  RotationOutput,
  StepDone,
  StepFailed,
  StepName,
  StepRecord,
} from './rotation-types.js';

export function initialContext(input: RotationInput): RotationContext {
  return {
    settings: input,
    steps: [],
    serverManual: false,
    observedKeyIds: [],
    progress: { generated: false, attached: false, installed: false },
    attempt: 1,
    operatorConfirmed: false,
  };
}

/** power-pages: how long one invocation waits for the platform's key (`resumeTimeout`). */
export function resumeTimeoutOf(context: RotationContext): number {
  return context.settings.resumeTimeoutMs ?? DEFAULT_RESUME_TIMEOUT_MS;
}

/** power-pages: the end of this invocation's wait for the platform's key. */
export function waitDeadlineOf(context: RotationContext, startedAt: number): number {
  return context.waitDeadline ?? startedAt + resumeTimeoutOf(context);
}

/** Throws for a fact an earlier step records but the context lacks. */
export function missing(what: string): never {
  // Reaching a step without the facts an earlier step records is a bug in the chart, not in the world.
  throw new Error(`rotation machine: ${what} missing from context`);
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Updates the open record of `step` (one not yet succeeded or skipped), or appends a new one. A step re-entered
 * after a park or retry keeps one record, so `attempts` counts every try.
 */
export function upsertStep(
  steps: StepRecord[],
  step: StepName,
  patch: Omit<Partial<StepRecord>, 'startedAt' | 'endedAt'> & {
    startedAt?: number | string;
    endedAt?: number | string;
  },
): StepRecord[] {
  const index = steps.findLastIndex((s) => s.name === step && s.status !== 'succeeded' && s.status !== 'skipped');
  const toIso = (v: number | string | undefined) => (typeof v === 'number' ? iso(v) : v);
  const { startedAt, endedAt, ...rest } = patch;
  const next = [...steps];
  if (index === -1) {
    next.push({
      name: step,
      status: 'running',
      startedAt: toIso(startedAt) ?? toIso(endedAt) ?? iso(0),
      attempts: 1,
      ...rest,
      ...(endedAt !== undefined ? { endedAt: toIso(endedAt) } : {}),
    });
  } else {
    const existing = next[index]!;
    next[index] = { ...existing, ...rest, ...(endedAt !== undefined ? { endedAt: toIso(endedAt) } : {}) };
  }
  return next;
}

/** A short human line for an error, without stack or payload. */
export function describeError(error: PortError): string {
  const status = error.status ? ` (HTTP ${error.status})` : '';
  return `${error.code}${status}: ${error.message}`;
}

/** Context after a retryable failure: the next attempt and its absolute deadline (survives a restore). */
export function afterRetryableFailure(context: RotationContext, step: StepName, failed: StepFailed) {
  const delay = backoffDelay(context.attempt, retryPolicyOf(context), failed.error);
  return {
    steps: upsertStep(context.steps, step, {
      status: 'retrying',
      startedAt: failed.startedAt,
      endedAt: failed.endedAt,
      attempts: context.attempt,
      detail: describeError(failed.error),
    }),
    attempt: context.attempt + 1,
    retryAt: failed.endedAt + delay,
    lastError: failed.error,
  };
}

/** What each failing step means for the operator: the sentence `failed` and the journal carry. */
export function failureMessage(context: RotationContext, step: StepName, error: PortError): string {
  const what = describeError(error);
  if (error.code === 'superseded') {
    return (
      `superseded: ${error.message}. This run does not act on what it saw at preflight: it withdraws only what it ` +
      'added itself and nobody uses, and stops.'
    );
  }
  switch (step) {
    case 'observeTarget':
      return `could not read the target (${what}); nothing was changed. Fix access and run rotate again.`;
    case 'generateCertificate':
      return (
        `creating the new Key Vault version failed (${what}); the app and server are unchanged. ` +
        `Check the vault (permissions, policy, pending operations) and run rotate again.`
      );
    case 'rollBackRotation':
      return (
        `rollback failed (${what}). The server must use key ${context.current?.thumbprint ?? '?'}, which is still ` +
        `registered on the app. Remove key ${context.newThumbprint ?? '?'} from app ${context.settings.appId} and ` +
        `disable its Key Vault version by hand, or fix the cause and run rollback again.`
      );
    case 'withdrawAdditions':
      return (
        `the run was superseded, and withdrawing its own additions failed (${what}). If the server does not use key ` +
        `${context.newThumbprint ?? '?'}, remove it from app ${context.settings.appId} and disable its Key Vault ` +
        'version by hand.'
      );
    default:
      return `${step} failed: ${what}`;
  }
}

/** The run's result document (DESIGN §5 rotate JSON minus the envelope) from its context. */
export function outputOf(context: RotationContext): RotationOutput {
  return {
    outcome: context.outcome ?? 'failed',
    oldThumbprint: context.oldThumbprint ?? null,
    newThumbprint: context.newThumbprint ?? null,
    steps: context.steps,
    ...(context.park ? { park: context.park } : {}),
    ...(context.failure ? { failure: context.failure } : {}),
    ...(context.note ? { note: context.note } : {}),
  };
}

// ---- The shared context updates (the `assign` bodies of the actions every flow uses) -----------------------------

interface ContextArgs {
  context: RotationContext;
}

/** `stepSucceeded`: closes the step's record (or marks it skipped) and resets the attempt counter. */
export function closeStep(
  { context }: ContextArgs,
  params: { step: StepName; done: StepDone<unknown>; detail?: string; skipped?: boolean },
) {
  return {
    steps: upsertStep(context.steps, params.step, {
      status: params.skipped ? 'skipped' : 'succeeded',
      startedAt: params.done.startedAt,
      endedAt: params.done.endedAt,
      attempts: context.attempt,
      detail: params.detail,
    }),
    attempt: 1,
    retryAt: undefined,
    lastError: undefined,
  };
}

/** `stepProgressed`: a step that ran but whose work is not finished (a pending create): open record, attempts reset. */
export function progressStep(
  { context }: ContextArgs,
  params: { step: StepName; done: StepDone<unknown>; detail: string },
) {
  return {
    steps: upsertStep(context.steps, params.step, {
      status: 'running',
      startedAt: params.done.startedAt,
      attempts: context.attempt,
      detail: params.detail,
    }),
    attempt: 1,
    retryAt: undefined,
    lastError: undefined,
  };
}

/** `scheduleRetry`: the failure recorded, the next attempt and when it starts. */
export function scheduleRetry({ context }: ContextArgs, params: { step: StepName; failed: StepFailed }) {
  return afterRetryableFailure(context, params.step, params.failed);
}

/** `stepFailed`: the step's record closed as failed, and the run's failure with its message for a person. */
export function failStepRecord({ context }: ContextArgs, params: { step: StepName; failed: StepFailed }) {
  const message = failureMessage(context, params.step, params.failed.error);
  return {
    steps: upsertStep(context.steps, params.step, {
      status: 'failed',
      startedAt: params.failed.startedAt,
      endedAt: params.failed.endedAt,
      attempts: context.attempt,
      detail: describeError(params.failed.error),
    }),
    failure: { step: params.step, error: params.failed.error, message },
    lastError: params.failed.error,
    attempt: 1,
    retryAt: undefined,
  };
}

/** `recordVerified`: when the new key was verified, and from it when the old one may go. */
export function recordVerified({ context }: ContextArgs, params: { at: number }) {
  return { verifiedAt: params.at, retireAt: params.at + context.settings.retireAfterMs };
}

/** `park`: the run waits for a person; the step it parked in says why (declined, or parked with the message). */
export function parkRun({ context }: ContextArgs, params: { info: ParkInfo; step?: StepName; at?: number }) {
  return {
    park: params.info,
    operatorConfirmed: false,
    // The next invocation waits its own resumeTimeout, counted from its RESUME.
    waitDeadline: undefined,
    steps: params.step
      ? upsertStep(context.steps, params.step, {
          status: params.info.reason === 'declined' ? 'declined' : 'parked',
          ...(params.at !== undefined ? { startedAt: params.at, endedAt: params.at } : {}),
          detail: params.info.message,
        })
      : context.steps,
  };
}

/** `unpark`: the park cleared on RESUME. */
export function unpark({ context }: ContextArgs) {
  return {
    // A person resumed a park that asked them to do something on the server: take their word for it.
    operatorConfirmed: context.park?.reason === 'manualInstall' || context.park?.reason === 'manualRestore',
    park: undefined,
    outcome: undefined,
  };
}

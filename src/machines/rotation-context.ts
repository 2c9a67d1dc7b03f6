/**
 * Context construction and the pure updates the machine's actions make. Kept apart from the statechart so the
 * chart reads as states and transitions.
 */
import type { PortError } from '../adapters/ports.js';
import { backoffDelay, retryPolicyOf } from './rotation-backoff.js';
import type {
  RotationContext,
  RotationInput,
  RotationOutput,
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

/**
 * Error classification and deadline-based backoff. Pure: times come in from step results, never from a clock here.
 */
import type { PortError } from '../adapters/ports.js';
import type { RetryPolicy, RotationContext, StepFailed, StepName } from './rotation-types.js';

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 2_000, maxDelayMs: 60_000 };

/** How long verification waits between token attempts while Entra propagates a new key. */
export const PROPAGATION_POLL_MS = 10_000;

export function retryPolicyOf(context: RotationContext): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...context.settings.retry };
}

/**
 * The wait before attempt `attempt + 1`: exponential from `baseDelayMs`, capped, and never shorter than the
 * service's Retry-After (throttling must be honoured exactly, graph-entra §3.2).
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, error?: PortError): number {
  if (error?.code === 'keyNotFound') return Math.max(PROPAGATION_POLL_MS, error.retryAfterMs ?? 0);
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(exponential, error?.retryAfterMs ?? 0);
}

/** Normalises whatever an actor rejected with: step actors reject with {@link StepFailed}; anything else is fatal. */
export function asStepFailed(thrown: unknown): StepFailed {
  const failed = thrown as Partial<StepFailed> | undefined;
  if (failed && typeof failed === 'object' && failed.error && typeof failed.endedAt === 'number') {
    return failed as StepFailed;
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return { error: { code: 'unknown', message, retryable: false }, startedAt: 0, endedAt: 0 };
}

/**
 * True when the failed step should be tried again: the error is retryable and the step has attempts left; for
 * verification, while the next attempt still falls before the verify deadline (Entra propagation has no SLA).
 */
export function shouldRetry(context: RotationContext, step: StepName, failed: StepFailed): boolean {
  if (!failed.error.retryable) return false;
  const policy = retryPolicyOf(context);
  if (step === 'verifyNewKey' || step === 'awaitPropagation') {
    const deadline = context.verifyDeadline ?? 0;
    return failed.endedAt + backoffDelay(context.attempt, policy, failed.error) < deadline;
  }
  return context.attempt < policy.maxAttempts;
}

/**
 * The codes that say a service did not answer (5xx or a dropped connection, no answer in time, throttled): an
 * outage, which says nothing about the new key. Anything else a verification fails with is an answer about the key —
 * Entra still not knowing it after `verifyTimeout` (AADSTS700027), WhoAmI refusing its token (401/403), the server
 * reporting another key — and only such a rejection rolls back.
 */
const OUTAGE_CODES: ReadonlySet<string> = new Set(['unavailable', 'timeout', 'throttled']);

/** True when `error` is a service outage rather than an answer (see {@link OUTAGE_CODES}). */
export function isServiceOutage(error: PortError): boolean {
  return OUTAGE_CODES.has(error.code);
}

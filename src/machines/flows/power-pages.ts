/**
 * The `power-pages` branch of the rotation chart (DESIGN §1, "the platform holds the key"): an admin presses Update
 * key in the admin center, `detectingPlatformKey` finds the key the platform adds to the app, verification checks the
 * site, and retirement PATCHes the old key away. The platform made the new key and the site runs on it, so there is
 * no rollback. The states are placed into the one rotation machine (src/machines/rotation.ts); the context updates
 * its actions make are here too, wired by name in that machine's `setup`.
 */
import { parkMessages, runNotes } from '../park-messages.js';
import { resumeTimeoutOf, upsertStep, waitDeadlineOf } from '../rotation-context.js';
import {
  doneOf,
  endedAtOf,
  gatedStep,
  parkAfterStep,
  recordStep,
  resultOf,
  retryOrFail,
  sleepingState,
  workingState,
} from '../rotation-states.js';
import type { DetectPlatformKeyResult, RetireResult, RotationContext, StepDone } from '../rotation-types.js';

/** Between two looks at the app while waiting for the platform's new key. */
export const PLATFORM_KEY_POLL_MS = 15_000;

interface ContextArgs {
  context: RotationContext;
}

// ---- Guards and context updates (wired by name in the machine's setup) --------------------------------------------

/** Guard `platformKeyWaitOver`: no platform key yet, and this invocation's `resumeTimeout` is used up. */
export function platformKeyWaitOver({ context }: ContextArgs, params: { done: StepDone<DetectPlatformKeyResult> }) {
  return (
    params.done.result.status === 'notYet' && params.done.endedAt >= waitDeadlineOf(context, params.done.startedAt)
  );
}

/** `startPlatformKeyWait`: this invocation waits up to `resumeTimeout` from `at` for the platform's key. */
export function startPlatformKeyWait({ context }: ContextArgs, params: { at: number }) {
  return { waitDeadline: params.at + resumeTimeoutOf(context) };
}

/** `scheduleNextLook`: the next look at the app, never past this invocation's deadline. */
export function scheduleNextLook({ context }: ContextArgs, params: { done: StepDone<DetectPlatformKeyResult> }) {
  const deadline = waitDeadlineOf(context, params.done.startedAt);
  const at = params.done.endedAt + Math.min(PLATFORM_KEY_POLL_MS, Math.max(0, deadline - params.done.endedAt));
  return {
    waitDeadline: deadline,
    retryAt: at,
    steps: upsertStep(context.steps, 'detectPlatformKey', {
      status: 'running',
      startedAt: params.done.startedAt,
      attempts: context.attempt,
      detail: `no new key on the app yet; waiting until ${new Date(deadline).toISOString()}`,
    }),
  };
}

/** `startSiteClock`: the site restarts for 5–15 minutes, so its verification waits at least as long as `resume`. */
export function startSiteClock({ context }: ContextArgs, params: { at: number }) {
  return { verifyDeadline: params.at + Math.max(context.settings.verifyTimeoutMs, resumeTimeoutOf(context)) };
}

/** `recordPlatformKey`: the platform's key is the run's new key, attached and installed by the platform. */
export function recordPlatformKey({ context }: ContextArgs, params: { result: DetectPlatformKeyResult }) {
  return params.result.status === 'found'
    ? {
        newKeyId: params.result.keyId,
        newThumbprint: params.result.thumbprint,
        newKey: { thumbprint: params.result.thumbprint, expiresOn: params.result.expiresOn },
        attachMethod: 'platform',
        keySet: params.result.keySet,
        waitDeadline: undefined,
        progress: { ...context.progress, attached: true, installed: true },
      }
    : {};
}

/** `refuseRollback`: there is nothing certrotate may undo; the park's message says so once. */
export function refuseRollback({ context }: ContextArgs) {
  const refusal = runNotes.rollbackRefused;
  const park = context.park;
  return {
    note: refusal,
    ...(park && !park.message.startsWith(refusal) ? { park: { ...park, message: `${refusal} ${park.message}` } } : {}),
  };
}

/** How the power-pages retire step's record reads: what the PATCH removed and kept, or that it had no work. */
export function powerPagesRetirementRecord(
  context: RotationContext,
  result: RetireResult,
): { detail: string; skipped?: boolean } {
  if (result.keyRemoved === 'alreadyGone') {
    return { detail: `noChange: old key ${context.oldThumbprint ?? '?'} already gone from the app`, skipped: true };
  }
  const kept = result.diff?.kept.join(', ') ?? '?';
  return { detail: `removed ${result.diff?.removed.join(', ') ?? context.oldThumbprint ?? '?'}; kept ${kept}` };
}

// ---- States ------------------------------------------------------------------------------------------------------

/** `detectingPlatformKey`: after the admin center steps are shown, look at the app until the platform's key is there. */
export const detectingPlatformKey = gatedStep({
  title: 'Wait for the key the platform adds to the app after Update key',
  gate: {
    title: 'Showing the admin center steps to the operator before waiting',
    step: 'detectPlatformKey',
    parkInfo: parkMessages.platformKeyUpdate,
  },
  states: {
    running: workingState('Looking for the platform key', {
      id: 'detectPlatformKey',
      src: 'detectPlatformKey',
      input: ({ context }: ContextArgs) => ({
        appId: context.settings.appId,
        observedKeyIds: context.observedKeyIds,
        ...(context.oldThumbprint ? { oldThumbprint: context.oldThumbprint } : {}),
        ...(context.current ? { oldExpiresOn: context.current.expiresOn } : {}),
      }),
      onDone: [
        {
          guard: { type: 'platformKeyWaitOver', params: doneOf<DetectPlatformKeyResult> },
          // Nothing changed yet, so stopping here is always safe: the next resume looks again.
          target: '#rotation.awaitingOperator',
          actions: parkAfterStep('detectPlatformKey', parkMessages.platformKeyUpdate),
        },
        {
          guard: { type: 'platformKeyNotYet', params: resultOf<DetectPlatformKeyResult> },
          target: 'waiting',
          actions: { type: 'scheduleNextLook', params: doneOf<DetectPlatformKeyResult> },
        },
        {
          target: '#rotation.verifying',
          actions: [
            { type: 'recordPlatformKey', params: resultOf<DetectPlatformKeyResult> },
            recordStep('stepSucceeded', 'detectPlatformKey', (result: DetectPlatformKeyResult) => ({
              detail: result.status === 'found' ? `key ${result.thumbprint}, expires ${result.expiresOn}` : undefined,
            })),
            { type: 'startSiteClock', params: endedAtOf },
          ],
        },
      ],
      onError: retryOrFail('detectPlatformKey', '#rotation.failed'),
    }),
    waiting: sleepingState('waiting', 'Waiting before looking at the app again', 'running'),
  },
  backingOff: 'Waiting before reading the app again',
});

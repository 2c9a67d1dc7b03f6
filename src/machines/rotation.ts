/**
 * The rotation machine (DESIGN §1–§3): preflight → generating → attaching → installing → verifying → retiring,
 * with noChange, a retirement grace period, operator parks, rollback and failure.
 *
 * Pure: every effect is a named promise actor the driver provides over the ports (`machine.provide`), every wait a
 * deadline-based sleep actor (XState `after` timers are not restored, reference/xstate-style.md §1.9). A restored run
 * re-runs the active step from the start, so every step observes before it acts (I3).
 *
 * One machine, its definition split by concern: this file holds the setup (actors, guards, actions by name),
 * preflight, the parks and the final states; each kind's branch is a flow file (flows/keyvault.ts,
 * flows/power-pages.ts), the tail both share is flows/verify-and-retire.ts, and the words for a person are in
 * park-messages.ts. `power-pages` targets share the chart: preflight parks for the admin center's Update key,
 * `detectingPlatformKey` finds the platform's new key, verification checks the site, and retirement PATCHes the old
 * key away.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { PortError } from '../adapters/ports.js';
import {
  attaching,
  generating,
  installing,
  markMayBeInstalled,
  recordAttached,
  recordGenerated,
  recordInstalled,
  rollingBack,
  startVerifyClock,
} from './flows/keyvault.js';
import {
  detectingPlatformKey,
  platformKeyWaitOver,
  recordPlatformKey,
  refuseRollback,
  scheduleNextLook,
  startPlatformKeyWait,
  startSiteClock,
} from './flows/power-pages.js';
import { isSuperseded, noteWithdrawn, premisesOf, withdrawing } from './flows/superseded.js';
import { retiring, verifying } from './flows/verify-and-retire.js';
import { parkMessages, runNotes } from './park-messages.js';
import { shouldRetry } from './rotation-backoff.js';
import {
  closeStep,
  failStepRecord,
  initialContext,
  outputOf,
  parkRun,
  progressStep,
  recordVerified,
  scheduleRetry,
  unpark,
} from './rotation-context.js';
import { preflightVerdict, type PreflightReason } from './preflight.js';
import { somethingToUndo } from './rotation-policies.js';
import {
  endedAtOf,
  finalState,
  nowOf,
  parkAfterStep,
  resumingTo,
  retriedStep,
  retryOrFail,
  stepSucceeded,
  workingState,
} from './rotation-states.js';
import type {
  AttachResult,
  AttachInput,
  AwaitCertificateInput,
  AwaitCertificateResult,
  DetectPlatformKeyInput,
  DetectPlatformKeyResult,
  GenerateInput,
  GenerateResult,
  InstallInput,
  InstallResult,
  ObserveInput,
  PropagationInput,
  PropagationResult,
  ResumeTarget,
  RetireInput,
  RetireResult,
  RollbackInput,
  RollbackResult,
  RotationContext,
  RotationEvent,
  RotationInput,
  RotationOutcome,
  RotationOutput,
  SleepInput,
  StepDone,
  StepFailed,
  StepName,
  TargetObservation,
  VerifyInput,
  VerifyResult,
  WithdrawInput,
  WithdrawResult,
} from './rotation-types.js';

/** Bump when states, actor names or context shape change: a snapshot of another version is refused on restore. */
export const ROTATION_MACHINE_VERSION = 'rotation/6';

export { PLATFORM_KEY_POLL_MS } from './flows/power-pages.js';

/** An actor the driver must provide; running the bare machine without it fails the step, never the machine. */
function requiredActor<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    const failed: StepFailed = {
      error: { code: 'notProvided', message: `actor ${name} was not provided`, retryable: false },
      startedAt: 0,
      endedAt: 0,
    };
    throw failed;
  });
}

function observeInput(context: RotationContext): ObserveInput {
  const s = context.settings;
  return {
    runId: s.runId,
    kind: s.kind,
    appId: s.appId,
    ...(s.keyVault ? { certificate: s.keyVault.certificate } : {}),
    ...(s.site ? { site: s.site } : {}),
  };
}

/** preflight: whether the verdict on `observation` has `reason` (the first condition of the chain that holds). */
function preflightSays(context: RotationContext, observation: TargetObservation, reason: PreflightReason): boolean {
  return preflightVerdict(observation, context.settings).reason === reason;
}

/** preflight: the run's failure when the verdict refuses the rotation, with the verdict's message for a person. */
function preflightFailure(context: RotationContext, observation: TargetObservation, code: PortError['code']) {
  const decision = preflightVerdict(observation, context.settings);
  const reason = decision.verdict === 'cannotRotate' ? decision.message : 'unknown';
  const error: PortError = { code, message: reason, retryable: false };
  return { failure: { step: 'observeTarget' as const, error, message: `cannot rotate: ${reason}` } };
}

/** preflight: the observation a done `observeTarget` carries, as the params its guards and actions take. */
function observationOf({ event }: { event: { output: StepDone<TargetObservation> } }) {
  return { observation: event.output.result };
}

/** preflight: every branch records what it saw and closes observeTarget's record, whatever it decides next. */
function observed(detail?: string) {
  return [{ type: 'recordObservation', params: observationOf }, stepSucceeded('observeTarget', detail)] as const;
}

export const rotationMachine = setup({
  types: {
    input: {} as RotationInput,
    context: {} as RotationContext,
    events: {} as RotationEvent,
    output: {} as RotationOutput,
    tags: {} as 'step' | 'confirm' | 'backoff' | 'waiting' | 'parked' | 'destructive' | 'final',
    meta: {} as { title: string },
  },
  actors: {
    observeTarget: requiredActor<StepDone<TargetObservation>, ObserveInput>('observeTarget'),
    generateCertificate: requiredActor<StepDone<GenerateResult>, GenerateInput>('generateCertificate'),
    awaitCertificate: requiredActor<StepDone<AwaitCertificateResult>, AwaitCertificateInput>('awaitCertificate'),
    attachKeyCredential: requiredActor<StepDone<AttachResult>, AttachInput>('attachKeyCredential'),
    awaitPropagation: requiredActor<StepDone<PropagationResult>, PropagationInput>('awaitPropagation'),
    installServerKey: requiredActor<StepDone<InstallResult>, InstallInput>('installServerKey'),
    detectPlatformKey: requiredActor<StepDone<DetectPlatformKeyResult>, DetectPlatformKeyInput>('detectPlatformKey'),
    verifyNewKey: requiredActor<StepDone<VerifyResult>, VerifyInput>('verifyNewKey'),
    retireOldKey: requiredActor<StepDone<RetireResult>, RetireInput>('retireOldKey'),
    rollBackRotation: requiredActor<StepDone<RollbackResult>, RollbackInput>('rollBackRotation'),
    withdrawAdditions: requiredActor<StepDone<WithdrawResult>, WithdrawInput>('withdrawAdditions'),
    sleepUntil: requiredActor<void, SleepInput>('sleepUntil'),
  },
  guards: {
    autoConfirm: ({ context }) => context.settings.autoConfirm,
    shouldRetry: ({ context }, params: { step: StepName; failed: StepFailed }) =>
      shouldRetry(context, params.step, params.failed),
    isSuperseded,
    // preflight: each guard is one link of the preflight verdict's chain, tried in the chain's order (preflight.ts).
    cannotRotateFrom: ({ context }, params: { observation: TargetObservation }) =>
      preflightSays(context, params.observation, 'NoUsableCurrentKey'),
    rotationNotDue: ({ context }, params: { observation: TargetObservation }) =>
      preflightSays(context, params.observation, 'RotationNotDue'),
    isPowerPages: ({ context }) => context.settings.kind === 'power-pages',
    /** power-pages without anyone to ask (`--yes`, CI): the run hands over to a person at once. */
    parksForUpdateKey: ({ context }) => context.settings.kind === 'power-pages' && context.settings.autoConfirm,
    onPlatformIdentity: ({ context }, params: { observation: TargetObservation }) =>
      preflightSays(context, params.observation, 'UsesPlatformIdentity'),
    cannotRetire: ({ context }, params: { observation: TargetObservation }) =>
      preflightSays(context, params.observation, 'CannotRetireOldKey'),
    platformKeyWaitOver,
    versionReady: (_, params: { result: GenerateResult }) => params.result.status === 'ready',
    hasOperation: ({ context }) => context.operation !== undefined,
    keyAttached: ({ context }) => context.progress.attached,
    serverIsManual: (_, params: { status: InstallResult['status'] | RollbackResult['status'] }) =>
      params.status === 'manual' || params.status === 'needsOperator',
    platformKeyNotYet: (_, params: { result: DetectPlatformKeyResult }) => params.result.status === 'notYet',
    retireGraceConfigured: ({ context }) => context.settings.retireAfterMs > 0,
    retirementDue: ({ context }, params: { now: number }) =>
      context.verifiedAt !== undefined && params.now >= (context.retireAt ?? 0),
    resumesTo: ({ context }, params: { target: ResumeTarget }) => context.park?.resumeTo === params.target,
    somethingToUndo: ({ context }) => somethingToUndo(context),
  },
  // Wired by name; the updates themselves live with their concern (rotation-context.ts, flows/*).
  actions: {
    stepSucceeded: assign(closeStep),
    stepProgressed: assign(progressStep),
    scheduleRetry: assign(scheduleRetry),
    stepFailed: assign(failStepRecord),
    recordObservation: assign(({ context }, params: { observation: TargetObservation }) => {
      const decision = preflightVerdict(params.observation, context.settings);
      const current = 'key' in decision ? decision.key : undefined;
      const site = params.observation.site;
      return {
        ...(current ? { current, oldThumbprint: current.thumbprint } : {}),
        // What every later mutating step checks the world against (I7). Recorded once: a resumed run keeps the
        // premises of its own preflight, which is the point.
        ...(current && context.settings.kind === 'keyvault'
          ? { premises: premisesOf(params.observation, current) }
          : {}),
        serverManual: params.observation.server.manual,
        observedKeyIds: params.observation.app.keyCredentials.map((k) => k.keyId),
        ...(site && context.settings.kind === 'power-pages'
          ? {
              site: {
                name: site.name ?? '',
                status: site.status,
                healthy: site.healthy,
                source: site.source ?? 'api',
                ...(site.environmentName ? { environmentName: site.environmentName } : {}),
                ...(site.url ? { url: site.url } : {}),
              },
            }
          : {}),
      };
    }),
    failCannotRetire: assign(({ context }, params: { observation: TargetObservation }) =>
      preflightFailure(context, params.observation, 'forbidden'),
    ),
    noteFederated: assign({ note: runNotes.federated }),
    startPlatformKeyWait: assign(startPlatformKeyWait),
    scheduleNextLook: assign(scheduleNextLook),
    startSiteClock: assign(startSiteClock),
    failPreflight: assign(({ context }, params: { observation: TargetObservation }) =>
      preflightFailure(context, params.observation, 'preconditionFailed'),
    ),
    noteNotDue: assign(({ context }) => ({ note: runNotes.notDue(context) })),
    recordGenerated: assign(recordGenerated),
    recordAttached: assign(recordAttached),
    recordPlatformKey: assign(recordPlatformKey),
    markMayBeInstalled: assign(markMayBeInstalled),
    recordInstalled: assign(recordInstalled),
    startVerifyClock: assign(startVerifyClock),
    recordVerified: assign(recordVerified),
    noteWithdrawn: assign(noteWithdrawn),
    park: assign(parkRun),
    unpark: assign(unpark),
    unparkForRollback: assign({
      // The operator asked for a rollback, which says nothing about what they did on the server: ask again.
      operatorConfirmed: false,
      park: undefined,
      outcome: undefined,
    }),
    setOutcome: assign((_, params: { outcome: RotationOutcome }) => ({ outcome: params.outcome })),
    resetAttempts: assign({ attempt: 1, retryAt: undefined }),
    /** power-pages: the platform made the new key and the site runs on it, so there is nothing certrotate may undo. */
    refuseRollback: assign(refuseRollback),
  },
}).createMachine({
  id: 'rotation',
  context: ({ input }) => initialContext(input),
  output: ({ context }) => outputOf(context),
  initial: 'preflight',
  states: {
    preflight: retriedStep({
      title: 'Observe the app, the vault and the server',
      states: {
        running: workingState('Reading the target', {
          id: 'observeTarget',
          src: 'observeTarget',
          input: ({ context }: { context: RotationContext }) => observeInput(context),
          onDone: [
            {
              guard: { type: 'onPlatformIdentity', params: observationOf },
              target: '#rotation.noChange',
              actions: [...observed('federated'), 'noteFederated'],
            },
            {
              guard: { type: 'cannotRotateFrom', params: observationOf },
              target: '#rotation.failed',
              actions: [...observed('precondition failed'), { type: 'failPreflight', params: observationOf }],
            },
            {
              guard: { type: 'rotationNotDue', params: observationOf },
              target: '#rotation.noChange',
              actions: [...observed(), 'noteNotDue'],
            },
            {
              // Checked before anyone presses Update key: afterwards the old key could not be removed.
              guard: { type: 'cannotRetire', params: observationOf },
              target: '#rotation.failed',
              actions: [...observed('precondition failed'), { type: 'failCannotRetire', params: observationOf }],
            },
            {
              // Unattended: nobody here can press the button, so hand the run over at once (exit 3).
              guard: 'parksForUpdateKey',
              target: '#rotation.awaitingOperator',
              actions: [...observed(), parkAfterStep('detectPlatformKey', parkMessages.platformKeyUpdate)],
            },
            {
              // Guided: show the instructions and wait here while the operator presses the button.
              guard: 'isPowerPages',
              target: '#rotation.detectingPlatformKey',
              actions: [...observed(), { type: 'startPlatformKeyWait', params: endedAtOf }],
            },
            { target: '#rotation.generating', actions: observed() },
          ],
          onError: retryOrFail('observeTarget', '#rotation.failed'),
        }),
      },
      backingOff: 'Waiting before reading the target again',
    }),

    generating,
    attaching,
    installing,
    detectingPlatformKey,
    verifying,

    awaitingRetirement: {
      tags: ['parked'],
      meta: { title: 'New key verified; waiting out the retirement grace period' },
      entry: { type: 'setOutcome', params: { outcome: 'awaitingRetirement' } },
      on: {
        RESUME: [
          {
            guard: { type: 'retirementDue', params: ({ event }) => ({ now: event.now }) },
            target: 'retiring',
            actions: assign({ outcome: undefined }),
          },
        ],
        ROLLBACK: [
          { guard: 'isPowerPages', actions: 'refuseRollback' },
          { guard: 'somethingToUndo', target: 'rollingBack', actions: assign({ outcome: undefined }) },
        ],
      },
    },

    retiring,
    rollingBack,
    withdrawing,

    awaitingOperator: {
      tags: ['parked'],
      meta: { title: 'Parked: waiting for an operator' },
      entry: { type: 'setOutcome', params: { outcome: 'awaitingOperator' } },
      on: {
        RESUME: [
          resumingTo('generating'),
          resumingTo('attaching'),
          resumingTo('installing'),
          resumingTo('detectingPlatformKey', { type: 'startPlatformKeyWait', params: nowOf }),
          resumingTo('verifying', { type: 'startSiteClock', params: nowOf }),
          resumingTo('retiring'),
          resumingTo('rollingBack'),
        ],
        ROLLBACK: [
          { guard: 'isPowerPages', actions: 'refuseRollback' },
          { guard: 'somethingToUndo', target: 'rollingBack', actions: 'unparkForRollback' },
          // Declined before anything changed: there is nothing to undo, so rolling back closes the run (it would
          // otherwise stay open and keep every later rotation of the target waiting on it).
          {
            target: 'rolledBack',
            actions: ['unparkForRollback', assign({ note: runNotes.nothingToUndo })],
          },
        ],
      },
    },

    succeeded: finalState('succeeded', 'Rotated'),
    noChange: finalState('noChange', 'Nothing due'),
    rolledBack: finalState('rolledBack', 'Rolled back: the old key is in service'),
    failed: finalState('failed', 'Failed: needs a person'),
    superseded: finalState('superseded', 'Superseded: the world moved on; this run withdrew its own additions'),
  },
});

export type RotationMachine = typeof rotationMachine;
export type {
  RotationContext,
  RotationEvent,
  RotationInput,
  RotationOutcome,
  RotationOutput,
} from './rotation-types.js';

/**
 * The rotation machine (DESIGN §1–§3): preflight → generating → attaching → installing → verifying → retiring,
 * with noChange, a retirement grace period, operator parks, rollback and failure.
 *
 * Pure: every effect is a named promise actor the driver provides over the ports (`machine.provide`), every wait a
 * deadline-based sleep actor (XState `after` timers are not restored, reference/xstate-style.md §1.9). A restored run
 * re-runs the active step from the start, so every step observes before it acts (I3).
 *
 * `power-pages` targets share the chart: preflight parks for the admin center's Update key, `detectingPlatformKey`
 * finds the platform's new key, verification checks the site, and retirement PATCHes the old key away.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { PortError } from '../adapters/ports.js';
import { shouldRetry } from './rotation-backoff.js';
import {
  afterRetryableFailure,
  describeError,
  failureMessage,
  initialContext,
  outputOf,
  upsertStep,
} from './rotation-context.js';
import {
  cannotRetireReason,
  currentKeyRef,
  newKeyRef,
  rotationDue,
  selectCurrentKey,
  somethingToUndo,
  updateKeyInstructions,
  usesPlatformIdentity,
} from './rotation-policies.js';
import {
  backingOffState,
  confirmingState,
  doneOf,
  endedAtOf,
  failStep,
  finalState,
  nowOf,
  parkAfterFailure,
  parkAfterStep,
  resultOf,
  resumingTo,
  retryAfterBackoff,
  retryOrFail,
  sleepingState,
  statusOf,
  stepSucceeded,
} from './rotation-states.js';
import { DEFAULT_RESUME_TIMEOUT_MS } from './rotation-types.js';
import type {
  AttachInput,
  AttachResult,
  AwaitCertificateInput,
  AwaitCertificateResult,
  DetectPlatformKeyInput,
  DetectPlatformKeyResult,
  GenerateInput,
  GenerateResult,
  InstallInput,
  InstallResult,
  ObserveInput,
  ParkInfo,
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
} from './rotation-types.js';

/** Bump when states, actor names or context shape change: a snapshot of another version is refused on restore. */
export const ROTATION_MACHINE_VERSION = 'rotation/5';

/** power-pages: between two looks at the app while waiting for the platform's new key. */
export const PLATFORM_KEY_POLL_MS = 15_000;

/** power-pages: how long one invocation waits for the platform's key (`resumeTimeout`). */
function resumeTimeoutOf(context: RotationContext): number {
  return context.settings.resumeTimeoutMs ?? DEFAULT_RESUME_TIMEOUT_MS;
}

/** power-pages: the end of this invocation's wait for the platform's key. */
function waitDeadlineOf(context: RotationContext, startedAt: number): number {
  return context.waitDeadline ?? startedAt + resumeTimeoutOf(context);
}

function describeWait(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

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

function missing(what: string): never {
  // Reaching a step without the facts an earlier step records is a bug in the chart, not in the world.
  throw new Error(`rotation machine: ${what} missing from context`);
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

function requireNewKey(context: RotationContext) {
  return newKeyRef(context) ?? missing('the new key');
}

const parkMessages = {
  manualInstall: (c: RotationContext): ParkInfo => ({
    reason: 'manualInstall',
    resumeTo: 'installing',
    message:
      `Install key ${c.newThumbprint ?? '?'} (Key Vault secret ${c.newKey?.secretId ?? '?'}) on the server of ` +
      `${c.settings.target}, then run \`certrotate resume ${c.settings.runId}\`.`,
  }),
  manualRestore: (c: RotationContext): ParkInfo => ({
    reason: 'manualRestore',
    resumeTo: 'rollingBack',
    message:
      `Put key ${c.current?.thumbprint ?? '?'} (Key Vault secret ${c.current?.secretId ?? '?'}) back on the server ` +
      `of ${c.settings.target}, then run \`certrotate resume ${c.settings.runId}\` to finish the rollback.`,
  }),
  platformKeyUpdate: (c: RotationContext): ParkInfo => ({
    reason: 'platformKeyUpdate',
    resumeTo: 'detectingPlatformKey',
    message:
      `${updateKeyInstructions(c)} Then run \`certrotate resume ${c.settings.runId}\`: it waits up to ` +
      `${describeWait(resumeTimeoutOf(c))} for the new key and the site, and removes the old key once the site is ` +
      'healthy on the new one.',
  }),
  retireFailed: (c: RotationContext, why: string): ParkInfo => ({
    reason: 'retireFailed',
    resumeTo: 'retiring',
    message:
      `The new key ${c.newThumbprint ?? '?'} works and is in use, but removing the old key ${c.oldThumbprint ?? '?'} ` +
      `failed (${why}). Fix the cause, then run \`certrotate resume ${c.settings.runId}\`.`,
  }),
  siteUnhealthy: (c: RotationContext, why: string): ParkInfo => ({
    reason: 'siteUnhealthy',
    resumeTo: 'verifying',
    message:
      `The platform's new key ${c.newThumbprint ?? '?'} is on app ${c.settings.appId}, but the site is not healthy ` +
      `(${why}), so the old key ${c.oldThumbprint ?? '?'} stays: certrotate never removes a key while the site is ` +
      'unhealthy. Check the site in the admin center; if Update key failed there, press Retry Authentication Key ' +
      `Update. Then run \`certrotate resume ${c.settings.runId}\`.`,
  }),
};

/** preflight: the observation a done `observeTarget` carries, as the params its guards and actions take. */
function observationOf({ event }: { event: { output: StepDone<TargetObservation> } }) {
  return { observation: event.output.result };
}

/** preflight: every branch records what it saw and closes observeTarget's record, whatever it decides next. */
function observed(detail?: string) {
  return [{ type: 'recordObservation', params: observationOf }, stepSucceeded('observeTarget', detail)] as const;
}

/** verifying: both done branches (grace period or not) record when the new key was verified. */
function verified() {
  return [{ type: 'recordVerified', params: endedAtOf }, stepSucceeded('verifyNewKey')] as const;
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
    sleepUntil: requiredActor<void, SleepInput>('sleepUntil'),
  },
  guards: {
    autoConfirm: ({ context }) => context.settings.autoConfirm,
    shouldRetry: ({ context }, params: { step: StepName; failed: StepFailed }) =>
      shouldRetry(context, params.step, params.failed),
    cannotRotateFrom: ({ context }, params: { observation: TargetObservation }) =>
      !selectCurrentKey(params.observation, context.settings).ok,
    rotationNotDue: ({ context }, params: { observation: TargetObservation }) => {
      const selection = selectCurrentKey(params.observation, context.settings);
      return selection.ok && !rotationDue(selection.key, params.observation.now, context.settings);
    },
    isPowerPages: ({ context }) => context.settings.kind === 'power-pages',
    /** power-pages without anyone to ask (`--yes`, CI): the run hands over to a person at once. */
    parksForUpdateKey: ({ context }) => context.settings.kind === 'power-pages' && context.settings.autoConfirm,
    onPlatformIdentity: ({ context }, params: { observation: TargetObservation }) =>
      context.settings.kind === 'power-pages' && usesPlatformIdentity(params.observation),
    cannotRetire: ({ context }, params: { observation: TargetObservation }) =>
      cannotRetireReason(params.observation, context.settings) !== undefined,
    /** No platform key yet, and this invocation's `resumeTimeout` is used up. */
    platformKeyWaitOver: ({ context }, params: { done: StepDone<DetectPlatformKeyResult> }) =>
      params.done.result.status === 'notYet' && params.done.endedAt >= waitDeadlineOf(context, params.done.startedAt),
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
  actions: {
    stepSucceeded: assign(
      ({ context }, params: { step: StepName; done: StepDone<unknown>; detail?: string; skipped?: boolean }) => ({
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
      }),
    ),
    /** A step that ran but whose work is not finished (a pending create): open record, attempts reset. */
    stepProgressed: assign(({ context }, params: { step: StepName; done: StepDone<unknown>; detail: string }) => ({
      steps: upsertStep(context.steps, params.step, {
        status: 'running',
        startedAt: params.done.startedAt,
        attempts: context.attempt,
        detail: params.detail,
      }),
      attempt: 1,
      retryAt: undefined,
      lastError: undefined,
    })),
    scheduleRetry: assign(({ context }, params: { step: StepName; failed: StepFailed }) =>
      afterRetryableFailure(context, params.step, params.failed),
    ),
    stepFailed: assign(({ context }, params: { step: StepName; failed: StepFailed }) => {
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
    }),
    recordObservation: assign(({ context }, params: { observation: TargetObservation }) => {
      const selection = selectCurrentKey(params.observation, context.settings);
      const current = selection.ok ? selection.key : undefined;
      const site = params.observation.site;
      return {
        ...(current ? { current, oldThumbprint: current.thumbprint } : {}),
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
    failCannotRetire: assign(({ context }, params: { observation: TargetObservation }) => {
      const reason = cannotRetireReason(params.observation, context.settings) ?? 'unknown';
      const error: PortError = { code: 'forbidden', message: reason, retryable: false };
      return { failure: { step: 'observeTarget' as const, error, message: `cannot rotate: ${reason}` } };
    }),
    noteFederated: assign({
      note: 'the site uses the platform-managed identity (federated credential, no key): nothing to rotate',
    }),
    startPlatformKeyWait: assign(({ context }, params: { at: number }) => ({
      waitDeadline: params.at + resumeTimeoutOf(context),
    })),
    scheduleNextLook: assign(({ context }, params: { done: StepDone<DetectPlatformKeyResult> }) => {
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
    }),
    /** power-pages: the site restarts for 5–15 minutes, so its verification waits at least as long as `resume`. */
    startSiteClock: assign(({ context }, params: { at: number }) => ({
      verifyDeadline: params.at + Math.max(context.settings.verifyTimeoutMs, resumeTimeoutOf(context)),
    })),
    failPreflight: assign(({ context }, params: { observation: TargetObservation }) => {
      const selection = selectCurrentKey(params.observation, context.settings);
      const reason = selection.ok ? 'unknown' : selection.message;
      const error: PortError = { code: 'preconditionFailed', message: reason, retryable: false };
      return {
        failure: { step: 'observeTarget' as const, error, message: `cannot rotate: ${reason}` },
      };
    }),
    noteNotDue: assign(({ context }) => ({
      note: `key ${context.current?.thumbprint ?? '?'} expires ${context.current?.expiresOn ?? '?'}: not due`,
    })),
    recordGenerated: assign(({ context }, params: { result: GenerateResult | AwaitCertificateResult }) => {
      const result = params.result;
      if ('status' in result && result.status === 'pending') {
        return { operation: result.operation, progress: { ...context.progress, generated: true } };
      }
      const key = result.key;
      return {
        newKey: key,
        newThumbprint: key.thumbprint,
        operation: undefined,
        progress: { ...context.progress, generated: true },
      };
    }),
    recordAttached: assign(({ context }, params: { result: AttachResult }) => ({
      newKeyId: params.result.keyId,
      attachMethod: params.result.method,
      progress: { ...context.progress, attached: true },
    })),
    recordPlatformKey: assign(({ context }, params: { result: DetectPlatformKeyResult }) =>
      params.result.status === 'found'
        ? {
            newKeyId: params.result.keyId,
            newThumbprint: params.result.thumbprint,
            newKey: { thumbprint: params.result.thumbprint, expiresOn: params.result.expiresOn },
            attachMethod: 'platform',
            keySet: params.result.keySet,
            waitDeadline: undefined,
            progress: { ...context.progress, attached: true, installed: true },
          }
        : {},
    ),
    markMayBeInstalled: assign(({ context }) => ({ progress: { ...context.progress, installed: true } })),
    recordInstalled: assign(({ context }) => ({
      progress: { ...context.progress, installed: true },
      operatorConfirmed: false,
    })),
    startVerifyClock: assign(({ context }, params: { at: number }) => ({
      verifyDeadline: params.at + context.settings.verifyTimeoutMs,
    })),
    recordVerified: assign(({ context }, params: { at: number }) => ({
      verifiedAt: params.at,
      retireAt: params.at + context.settings.retireAfterMs,
    })),
    park: assign(({ context }, params: { info: ParkInfo; step?: StepName; at?: number }) => ({
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
    })),
    unpark: assign(({ context }) => ({
      // A person resumed a park that asked them to do something on the server: take their word for it.
      operatorConfirmed: context.park?.reason === 'manualInstall' || context.park?.reason === 'manualRestore',
      park: undefined,
      outcome: undefined,
    })),
    unparkForRollback: assign({
      // The operator asked for a rollback, which says nothing about what they did on the server: ask again.
      operatorConfirmed: false,
      park: undefined,
      outcome: undefined,
    }),
    setOutcome: assign((_, params: { outcome: RotationOutcome }) => ({ outcome: params.outcome })),
    resetAttempts: assign({ attempt: 1, retryAt: undefined }),
    /** power-pages: the platform made the new key and the site runs on it, so there is nothing certrotate may undo. */
    refuseRollback: assign(({ context }) => {
      const refusal =
        'Rollback refused: Power Pages made the new key and the site runs on it, so withdrawing it would take the ' +
        'site down; the old key stays until this run retires it.';
      const park = context.park;
      return {
        note: refusal,
        ...(park && !park.message.startsWith(refusal)
          ? { park: { ...park, message: `${refusal} ${park.message}` } }
          : {}),
      };
    }),
  },
}).createMachine({
  id: 'rotation',
  context: ({ input }) => initialContext(input),
  output: ({ context }) => outputOf(context),
  initial: 'preflight',
  states: {
    preflight: {
      meta: { title: 'Observe the app, the vault and the server' },
      initial: 'running',
      states: {
        running: {
          tags: ['step'],
          meta: { title: 'Reading the target' },
          invoke: {
            id: 'observeTarget',
            src: 'observeTarget',
            input: ({ context }) => observeInput(context),
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
          },
        },
        backingOff: backingOffState('Waiting before reading the target again', 'running'),
      },
    },

    generating: {
      meta: { title: 'Create a new Key Vault certificate version' },
      initial: 'confirming',
      states: {
        confirming: confirmingState({
          title: 'Waiting for confirmation to create a new version',
          next: 'requesting',
          step: 'generateCertificate',
          parkInfo: declinedTo('generating'),
        }),
        requesting: {
          tags: ['step'],
          meta: { title: 'Creating the new version' },
          invoke: {
            id: 'generateCertificate',
            src: 'generateCertificate',
            input: ({ context }) => ({
              runId: context.settings.runId,
              certificate: context.settings.keyVault?.certificate ?? missing('keyVault.certificate'),
              policy: context.settings.keyVault?.policy ?? missing('keyVault.policy'),
              ...(context.operation ? { operation: context.operation } : {}),
            }),
            onDone: [
              {
                guard: { type: 'versionReady', params: resultOf },
                target: '#rotation.attaching',
                actions: [
                  { type: 'recordGenerated', params: resultOf },
                  {
                    type: 'stepSucceeded',
                    params: ({ event }) => ({
                      step: 'generateCertificate',
                      done: event.output,
                      detail: event.output.result.reused ? 'found the version this run created' : 'created',
                    }),
                  },
                ],
              },
              {
                target: 'polling',
                actions: [
                  { type: 'recordGenerated', params: resultOf },
                  {
                    type: 'stepProgressed',
                    params: ({ event }) => ({
                      step: 'generateCertificate',
                      done: event.output,
                      detail: event.output.result.reused ? 'resumed a pending create' : 'create requested',
                    }),
                  },
                ],
              },
            ],
            onError: retryOrFail('generateCertificate', '#rotation.failed'),
          },
        },
        polling: {
          tags: ['step'],
          meta: { title: 'Waiting for Key Vault to issue the certificate' },
          invoke: {
            id: 'awaitCertificate',
            src: 'awaitCertificate',
            input: ({ context }) => ({
              runId: context.settings.runId,
              operation: context.operation ?? missing('the create operation'),
            }),
            onDone: {
              target: '#rotation.attaching',
              actions: [{ type: 'recordGenerated', params: resultOf }, stepSucceeded('generateCertificate', 'created')],
            },
            onError: retryOrFail('generateCertificate', '#rotation.failed'),
          },
        },
        backingOff: backingOffState('Waiting before trying Key Vault again', [
          { guard: 'hasOperation', target: 'polling' },
          { target: 'requesting' },
        ]),
      },
    },

    attaching: {
      meta: { title: 'Add the new key to the app registration' },
      initial: 'confirming',
      states: {
        confirming: confirmingState({
          title: 'Waiting for confirmation to add the new key to the app',
          next: 'running',
          step: 'attachKeyCredential',
          parkInfo: declinedTo('attaching'),
        }),
        running: {
          tags: ['step'],
          meta: { title: 'Adding the new key to the app' },
          invoke: {
            id: 'attachKeyCredential',
            src: 'attachKeyCredential',
            input: ({ context }) => {
              const proofKey = currentKeyRef(context);
              return {
                appId: context.settings.appId,
                newKey: requireNewKey(context),
                ...(proofKey ? { proofKey } : {}),
                attempt: context.attempt,
              };
            },
            onDone: {
              target: 'propagating',
              actions: [
                { type: 'recordAttached', params: resultOf },
                { type: 'startVerifyClock', params: endedAtOf },
                {
                  type: 'stepSucceeded',
                  params: ({ event }) => ({
                    step: 'attachKeyCredential',
                    done: event.output,
                    detail: `keyId ${event.output.result.keyId} (${event.output.result.method})`,
                    skipped: event.output.result.method === 'alreadyAttached',
                  }),
                },
              ],
            },
            onError: [
              retryAfterBackoff('attachKeyCredential'),
              // The key may or may not be on the app now: rollback observes and withdraws whatever is there.
              failStep('attachKeyCredential', '#rotation.rollingBack'),
            ],
          },
        },
        propagating: {
          tags: ['step'],
          meta: { title: 'Waiting until Entra accepts the new key' },
          invoke: {
            // The server gets the new key only once Entra issues tokens for it: installing it earlier would leave the
            // server unable to authenticate for as long as propagation takes (minutes, no SLA).
            id: 'awaitPropagation',
            src: 'awaitPropagation',
            input: ({ context }) => ({
              appId: context.settings.appId,
              newKey: requireNewKey(context),
              ...(context.settings.dataverseUrl ? { dataverseUrl: context.settings.dataverseUrl } : {}),
            }),
            onDone: { target: '#rotation.installing', actions: stepSucceeded('awaitPropagation') },
            onError: retryOrFail('awaitPropagation', '#rotation.rollingBack'),
          },
        },
        backingOff: backingOffState('Waiting before trying Graph or Entra again', [
          { guard: 'keyAttached', target: 'propagating' },
          { target: 'running' },
        ]),
      },
    },

    installing: {
      meta: { title: 'Install the new key on the server' },
      initial: 'confirming',
      states: {
        confirming: confirmingState({
          title: 'Waiting for confirmation to install the new key on the server',
          next: 'running',
          step: 'installServerKey',
          parkInfo: declinedTo('installing'),
        }),
        running: {
          tags: ['step'],
          meta: { title: 'Installing the new key on the server' },
          invoke: {
            id: 'installServerKey',
            src: 'installServerKey',
            input: ({ context }) => ({ newKey: requireNewKey(context), operatorConfirmed: context.operatorConfirmed }),
            onDone: [
              {
                guard: { type: 'serverIsManual', params: statusOf },
                target: '#rotation.awaitingOperator',
                actions: [
                  parkAfterStep('installServerKey', parkMessages.manualInstall),
                  // From here on a person may put the new key on the server at any moment: a rollback must ask
                  // them to put the old one back before the new key leaves the app (I1).
                  'markMayBeInstalled',
                ],
              },
              {
                target: '#rotation.verifying',
                actions: [
                  'recordInstalled',
                  {
                    type: 'stepSucceeded',
                    params: ({ event }) => ({
                      step: 'installServerKey',
                      done: event.output,
                      detail: event.output.result.status,
                      skipped: event.output.result.status === 'alreadyInstalled',
                    }),
                  },
                  { type: 'startVerifyClock', params: endedAtOf },
                ],
              },
            ],
            onError: retryOrFail('installServerKey', '#rotation.rollingBack'),
          },
        },
        backingOff: backingOffState('Waiting before trying the server again', 'running'),
      },
    },

    detectingPlatformKey: {
      meta: { title: 'Wait for the key the platform adds to the app after Update key' },
      initial: 'confirming',
      states: {
        confirming: confirmingState({
          title: 'Showing the admin center steps to the operator before waiting',
          next: 'running',
          step: 'detectPlatformKey',
          parkInfo: parkMessages.platformKeyUpdate,
        }),
        running: {
          tags: ['step'],
          meta: { title: 'Looking for the platform key' },
          invoke: {
            id: 'detectPlatformKey',
            src: 'detectPlatformKey',
            input: ({ context }) => ({
              appId: context.settings.appId,
              observedKeyIds: context.observedKeyIds,
              ...(context.oldThumbprint ? { oldThumbprint: context.oldThumbprint } : {}),
              ...(context.current ? { oldExpiresOn: context.current.expiresOn } : {}),
            }),
            onDone: [
              {
                guard: { type: 'platformKeyWaitOver', params: doneOf },
                // Nothing changed yet, so stopping here is always safe: the next resume looks again.
                target: '#rotation.awaitingOperator',
                actions: parkAfterStep('detectPlatformKey', parkMessages.platformKeyUpdate),
              },
              {
                guard: { type: 'platformKeyNotYet', params: resultOf },
                target: 'waiting',
                actions: { type: 'scheduleNextLook', params: doneOf },
              },
              {
                target: '#rotation.verifying',
                actions: [
                  { type: 'recordPlatformKey', params: resultOf },
                  {
                    type: 'stepSucceeded',
                    params: ({ event }) => ({
                      step: 'detectPlatformKey',
                      done: event.output,
                      detail:
                        event.output.result.status === 'found'
                          ? `key ${event.output.result.thumbprint}, expires ${event.output.result.expiresOn}`
                          : undefined,
                    }),
                  },
                  { type: 'startSiteClock', params: endedAtOf },
                ],
              },
            ],
            onError: retryOrFail('detectPlatformKey', '#rotation.failed'),
          },
        },
        waiting: sleepingState('waiting', 'Waiting before looking at the app again', 'running'),
        backingOff: backingOffState('Waiting before reading the app again', 'running'),
      },
    },

    verifying: {
      meta: { title: 'Verify the new key: token, WhoAmI, server' },
      initial: 'running',
      states: {
        running: {
          tags: ['step'],
          meta: { title: 'Acquiring a token with the new key' },
          invoke: {
            id: 'verifyNewKey',
            src: 'verifyNewKey',
            input: ({ context }) => ({
              kind: context.settings.kind,
              appId: context.settings.appId,
              // power-pages: the platform holds the key; the verify step checks the site, not a token.
              newKey: newKeyRef(context) ?? { thumbprint: context.newThumbprint ?? '', secretId: '' },
              ...(context.settings.dataverseUrl ? { dataverseUrl: context.settings.dataverseUrl } : {}),
              ...(context.settings.site ? { site: context.settings.site } : {}),
            }),
            onDone: [
              { guard: 'retireGraceConfigured', target: '#rotation.awaitingRetirement', actions: verified() },
              { target: '#rotation.retiring', actions: verified() },
            ],
            onError: [
              retryAfterBackoff('verifyNewKey'),
              {
                // power-pages: the site runs on the platform's new key whatever its health, so nothing is undone; the
                // old key stays (never removed while the site is unhealthy) and a person looks at the site.
                guard: 'isPowerPages',
                target: '#rotation.awaitingOperator',
                actions: [parkAfterFailure('verifyNewKey', parkMessages.siteUnhealthy), 'resetAttempts'],
              },
              // I2: the new key never produced a token, so the old key stays; undo the new one.
              failStep('verifyNewKey', '#rotation.rollingBack'),
            ],
          },
        },
        backingOff: backingOffState('Waiting for Entra to propagate the new key', 'running'),
      },
    },

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

    retiring: {
      meta: { title: 'Remove the old key from the app and disable its version' },
      initial: 'confirming',
      states: {
        confirming: confirmingState({
          title: 'Waiting for confirmation to remove the old key',
          next: 'running',
          step: 'retireOldKey',
          parkInfo: declinedTo('retiring'),
        }),
        running: {
          tags: ['step', 'destructive'],
          meta: { title: 'Removing the old key' },
          invoke: {
            id: 'retireOldKey',
            src: 'retireOldKey',
            input: ({ context }) => {
              const newKey = newKeyRef(context);
              const current = context.current ?? missing('the current key');
              return {
                kind: context.settings.kind,
                appId: context.settings.appId,
                oldKeyId: current.keyId,
                oldThumbprint: current.thumbprint,
                ...(newKey ? { newKey } : {}),
                ...(context.settings.keyVault ? { certificate: context.settings.keyVault.certificate } : {}),
                ...(current.version ? { oldVersion: current.version } : {}),
                ...(context.newKeyId ? { newKeyId: context.newKeyId } : {}),
                ...(context.settings.site ? { site: context.settings.site } : {}),
              };
            },
            onDone: {
              target: '#rotation.succeeded',
              actions: {
                type: 'stepSucceeded',
                params: ({ context, event }) => ({
                  step: 'retireOldKey',
                  done: event.output,
                  ...retirementRecord(context, event.output.result),
                }),
              },
            },
            onError: [
              retryAfterBackoff('retireOldKey'),
              {
                // Safe to stop here: the new key works and is in use, the old one is merely still attached.
                target: '#rotation.awaitingOperator',
                actions: parkAfterFailure('retireOldKey', parkMessages.retireFailed),
              },
            ],
          },
        },
        backingOff: backingOffState('Waiting before trying the removal again', 'running'),
      },
    },

    rollingBack: {
      meta: { title: 'Put the old key back and withdraw the new one' },
      initial: 'confirming',
      states: {
        confirming: confirmingState({
          title: 'Waiting for confirmation to roll back',
          next: 'running',
          step: 'rollBackRotation',
          parkInfo: declinedTo('rollingBack'),
        }),
        running: {
          tags: ['step', 'destructive'],
          meta: { title: 'Rolling back' },
          invoke: {
            id: 'rollBackRotation',
            src: 'rollBackRotation',
            input: ({ context }) => {
              const current = context.current ?? missing('the current key');
              const newKey = newKeyRef(context);
              return {
                appId: context.settings.appId,
                oldKey: { thumbprint: current.thumbprint, secretId: current.secretId ?? '' },
                ...(newKey ? { newKey } : {}),
                ...(context.newKeyId ? { newKeyId: context.newKeyId } : {}),
                ...(context.settings.keyVault ? { certificate: context.settings.keyVault.certificate } : {}),
                ...(context.newKey?.version ? { newVersion: context.newKey.version } : {}),
                serverManual: context.serverManual,
                installed: context.progress.installed,
                operatorConfirmed: context.operatorConfirmed,
              };
            },
            onDone: [
              {
                guard: { type: 'serverIsManual', params: statusOf },
                target: '#rotation.awaitingOperator',
                actions: parkAfterStep('rollBackRotation', parkMessages.manualRestore),
              },
              {
                target: '#rotation.rolledBack',
                actions: {
                  type: 'stepSucceeded',
                  params: ({ event }) => ({
                    step: 'rollBackRotation',
                    done: event.output,
                    detail:
                      `server ${event.output.result.serverRestored}, new key ${event.output.result.keyRemoved}, ` +
                      `new version ${event.output.result.versionDisabled}`,
                  }),
                },
              },
            ],
            onError: retryOrFail('rollBackRotation', '#rotation.failed'),
          },
        },
        backingOff: backingOffState('Waiting before trying the rollback again', 'running'),
      },
    },

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
            actions: [
              'unparkForRollback',
              assign({ note: 'Nothing had changed yet; the run is closed and the old key stays in service.' }),
            ],
          },
        ],
      },
    },

    succeeded: finalState('succeeded', 'Rotated'),
    noChange: finalState('noChange', 'Nothing due'),
    rolledBack: finalState('rolledBack', 'Rolled back: the old key is in service'),
    failed: finalState('failed', 'Failed: needs a person'),
  },
});

/** How the retire step's record reads: power-pages says what the PATCH removed and kept, or that it had no work. */
function retirementRecord(context: RotationContext, result: RetireResult): { detail: string; skipped?: boolean } {
  if (context.settings.kind !== 'power-pages') {
    return { detail: `key ${result.keyRemoved}, version ${result.versionDisabled}` };
  }
  if (result.keyRemoved === 'alreadyGone') {
    return { detail: `noChange: old key ${context.oldThumbprint ?? '?'} already gone from the app`, skipped: true };
  }
  const kept = result.diff?.kept.join(', ') ?? '?';
  return { detail: `removed ${result.diff?.removed.join(', ') ?? context.oldThumbprint ?? '?'}; kept ${kept}` };
}

/** A confirming gate's DECLINE park: the run resumes to `resumeTo` and asks again. */
function declinedTo(resumeTo: ResumeTarget) {
  return (context: RotationContext, reason: string | undefined) => declined(context, resumeTo, reason);
}

function declined(context: RotationContext, resumeTo: ResumeTarget, reason?: string): ParkInfo {
  const what = resumeTo === 'rollingBack' ? 'roll back' : 'continue';
  return {
    reason: 'declined',
    resumeTo,
    message:
      `The operator declined to ${what}${reason ? ` (${reason})` : ''}; ` +
      `run \`certrotate resume ${context.settings.runId}\` to be asked again.`,
  };
}

export type RotationMachine = typeof rotationMachine;
export type {
  RotationContext,
  RotationEvent,
  RotationInput,
  RotationOutcome,
  RotationOutput,
} from './rotation-types.js';

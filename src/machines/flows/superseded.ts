/**
 * Superseded runs (I7: a run never acts on facts the world has since contradicted). Preflight records what the run
 * starts from (its premises); every mutating step observes the world again before it acts and, when a premise no
 * longer holds (another run installed a newer key, made a newer vault version, retired the old key…), fails with the
 * non-retryable code `superseded`. From any step that code leads here: the run withdraws what it added itself and
 * nobody uses (`withdrawing`), then ends `superseded` (exit 1), never retrying and never rolling back, because a
 * rollback would move the server back to a key the world has left behind.
 *
 * Pure like the rest of src/machines: the checks themselves are in the step activities (src/runs/steps/premises.ts).
 */
import { asStepFailed } from '../rotation-backoff.js';
import { missing } from '../rotation-context.js';
import { currentKeyRef, newKeyRef } from '../rotation-policies.js';
import { recordStep, resultOf, retriedStep, retryOrFail, workingState } from '../rotation-states.js';
import type {
  CurrentKey,
  Premises,
  RotationContext,
  StepName,
  TargetObservation,
  WithdrawResult,
} from '../rotation-types.js';

/** The PortError code of a step that found a premise contradicted by the world. Never retryable. */
export const SUPERSEDED = 'superseded';

interface ContextArgs {
  context: RotationContext;
}

/** The premises preflight records: the key in service, the server's key, the vault's newest version, the app's keys. */
export function premisesOf(observation: TargetObservation, current: CurrentKey): Premises {
  const latest = observation.versions.at(-1);
  return {
    oldThumbprint: current.thumbprint,
    oldKeyId: current.keyId,
    ...(observation.server.thumbprint ? { serverThumbprint: observation.server.thumbprint.toUpperCase() } : {}),
    ...(latest ? { latestVersion: { version: latest.version, createdOn: latest.createdOn } } : {}),
    keyIds: observation.app.keyCredentials.map((k) => k.keyId),
  };
}

/** Params `{ step, failed }` of a failed step (the shape `isSuperseded` and `stepFailed` take). */
function failureOf(step: StepName) {
  return ({ event }: { event: { error: unknown } }) => ({ step, failed: asStepFailed(event.error) });
}

/** Guard `isSuperseded`: the step failed because the world contradicted one of the run's premises. */
export function isSuperseded(_: unknown, params: { failed: { error: { code: string } } }): boolean {
  return params.failed.error.code === SUPERSEDED;
}

/**
 * The first branch of a mutating step's `onError`: a contradicted premise records the step's failure (its message
 * names what changed and who) and goes to `withdrawing`. Placed before the retry branch, though the code is never
 * retryable, so that no policy change could make a superseded run try again on stale facts.
 */
export function supersededBranch(step: StepName) {
  return {
    guard: { type: 'isSuperseded', params: failureOf(step) },
    target: '#rotation.withdrawing',
    actions: { type: 'stepFailed', params: failureOf(step) },
  } as const;
}

/** `noteWithdrawn`: what the superseded run took back and what it left, for the result's note. */
export function noteWithdrawn({ context }: ContextArgs, params: { result: WithdrawResult }) {
  return { note: withdrawalNote(context, params.result) };
}

function withdrawalNote(context: RotationContext, result: WithdrawResult): string {
  const key = context.newThumbprint ?? 'none';
  const version = context.newKey?.version ?? 'none';
  const keyWords: Record<WithdrawResult['keyRemoved'], string> = {
    removed: `its key ${key} removed from app ${context.settings.appId}`,
    alreadyGone: `its key ${key} is not on the app`,
    none: 'it added no key',
    inUse: `its key ${key} stays: the server uses it`,
    mayBeInUse: `its key ${key} stays: a person may have installed it on the manual server`,
  };
  const versionWords: Record<WithdrawResult['versionDisabled'], string> = {
    disabled: `its version ${version} disabled`,
    alreadyDisabled: `its version ${version} already disabled`,
    none: 'it made no version',
    inUse: `its version ${version} stays enabled: the server uses it`,
    mayBeInUse: `its version ${version} stays enabled: a person may have installed it`,
  };
  return `superseded: ${keyWords[result.keyRemoved]}; ${versionWords[result.versionDisabled]}`;
}

/**
 * `withdrawing`: the superseded run withdraws only what it added itself (its key credential, its vault version) and
 * only when that is provably unused. Not gated: it changes nothing anyone uses, and the operator already agreed to
 * each addition it takes back. Safe to re-run: every part observes first, and "already gone" is success.
 */
export const withdrawing = retriedStep({
  title: "Superseded: withdraw this run's own unused additions",
  states: {
    running: workingState(
      "Withdrawing this run's additions",
      {
        id: 'withdrawAdditions',
        src: 'withdrawAdditions',
        input: ({ context }: ContextArgs) => {
          const newKey = newKeyRef(context);
          const oldKey = currentKeyRef(context);
          return {
            runId: context.settings.runId,
            appId: context.settings.appId,
            ...(newKey ? { newKey } : {}),
            ...(context.newKeyId ? { newKeyId: context.newKeyId } : {}),
            ...(context.settings.keyVault ? { certificate: context.settings.keyVault.certificate } : {}),
            ...(context.newKey?.version ? { newVersion: context.newKey.version } : {}),
            // A create still pending as the run was superseded: its version appears later, and is ours to withdraw.
            ...(context.operation ? { operation: context.operation } : {}),
            ...(oldKey ? { oldKey } : {}),
            serverManual: context.serverManual,
            mayBeInstalled: context.serverManual && context.progress.installed,
          };
        },
        onDone: {
          target: '#rotation.superseded',
          actions: [
            { type: 'noteWithdrawn', params: resultOf<WithdrawResult> },
            recordStep('stepSucceeded', 'withdrawAdditions', (result: WithdrawResult) => ({
              detail: `key ${result.keyRemoved}, version ${result.versionDisabled}`,
            })),
          ],
        },
        onError: retryOrFail('withdrawAdditions', '#rotation.failed'),
      },
      ['step', 'destructive'],
    ),
  },
  backingOff: "Waiting before withdrawing this run's additions again",
});

/** The premises a step input carries: keyvault runs have them from preflight; a chart without them is a bug. */
export function premisesInput(context: RotationContext): { premises: Premises } | Record<string, never> {
  if (context.settings.kind !== 'keyvault') return {};
  return { premises: context.premises ?? missing('the premises') };
}

/**
 * The `keyvault` branch of the rotation chart (DESIGN §1, "you hold the key"): generate a new Key Vault version,
 * attach it to the app and wait until Entra accepts it, install it on the server, and — when verification fails or an
 * operator asks — roll back. The states are placed into the one rotation machine (src/machines/rotation.ts); the
 * context updates its actions make are here too, wired by name in that machine's `setup`.
 *
 * Pure like the rest of src/machines: every effect is a named actor the driver provides.
 */
import { declinedTo, parkMessages } from '../park-messages.js';
import { missing } from '../rotation-context.js';
import { currentKeyRef, newKeyRef, requireNewKey } from '../rotation-policies.js';
import {
  endedAtOf,
  failStep,
  gatedStep,
  parkAfterStep,
  parkWhenUnreachable,
  recordStep,
  resultOf,
  retryAfterBackoff,
  retryOrFail,
  stepSucceeded,
  statusOf,
  workingState,
} from '../rotation-states.js';
import { premisesInput, supersededBranch } from './superseded.js';
import type {
  AttachResult,
  AwaitCertificateResult,
  GenerateResult,
  InstallResult,
  RetireResult,
  RollbackResult,
  RotationContext,
} from '../rotation-types.js';

/** What every invoke input and context update reads. */
interface ContextArgs {
  context: RotationContext;
}

// ---- Context updates (the `assign` bodies of the keyvault actions) ------------------------------------------------

/** `recordGenerated`: a pending create is kept (a resumed run polls it); an issued version becomes the new key. */
export function recordGenerated({ context }: ContextArgs, params: { result: GenerateResult | AwaitCertificateResult }) {
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
}

/** `recordAttached`: the new key's credential id and how it got there. */
export function recordAttached({ context }: ContextArgs, params: { result: AttachResult }) {
  return {
    newKeyId: params.result.keyId,
    attachMethod: params.result.method,
    progress: { ...context.progress, attached: true },
  };
}

/** `markMayBeInstalled`: a person may put the new key on the server from now on. */
export function markMayBeInstalled({ context }: ContextArgs) {
  return { progress: { ...context.progress, installed: true } };
}

/** `recordInstalled`: the server has the new key; an operator's word is used up. */
export function recordInstalled({ context }: ContextArgs) {
  return { progress: { ...context.progress, installed: true }, operatorConfirmed: false };
}

/** `startVerifyClock`: verification (and propagation) may take `verifyTimeout` from `at`. */
export function startVerifyClock({ context }: ContextArgs, params: { at: number }) {
  return { verifyDeadline: params.at + context.settings.verifyTimeoutMs };
}

/** How the keyvault retire step's record reads. */
export function keyVaultRetirementRecord(result: RetireResult): { detail: string; skipped?: boolean } {
  return { detail: `key ${result.keyRemoved}, version ${result.versionDisabled}` };
}

// ---- States ------------------------------------------------------------------------------------------------------

/** `generating`: create the new version (requesting), then poll Key Vault until it is issued (polling). */
export const generating = gatedStep({
  title: 'Create a new Key Vault certificate version',
  gate: {
    title: 'Waiting for confirmation to create a new version',
    step: 'generateCertificate',
    parkInfo: declinedTo('generating'),
    // Nothing has changed yet: a run stopped at this question can be closed (`abandon`).
    abandonable: true,
  },
  states: {
    requesting: workingState('Creating the new version', {
      id: 'generateCertificate',
      src: 'generateCertificate',
      input: ({ context }: ContextArgs) => ({
        runId: context.settings.runId,
        certificate: context.settings.keyVault?.certificate ?? missing('keyVault.certificate'),
        policy: context.settings.keyVault?.policy ?? missing('keyVault.policy'),
        ...(context.operation ? { operation: context.operation } : {}),
        ...premisesInput(context),
      }),
      onDone: [
        {
          guard: { type: 'versionReady', params: resultOf<GenerateResult> },
          target: '#rotation.attaching',
          actions: [
            { type: 'recordGenerated', params: resultOf<GenerateResult> },
            recordStep('stepSucceeded', 'generateCertificate', (result: GenerateResult) => ({
              detail: result.reused ? 'found the version this run created' : 'created',
            })),
          ],
        },
        {
          target: 'polling',
          actions: [
            { type: 'recordGenerated', params: resultOf<GenerateResult> },
            recordStep('stepProgressed', 'generateCertificate', (result: GenerateResult) => ({
              detail: result.reused ? 'resumed a pending create' : 'create requested',
            })),
          ],
        },
      ],
      onError: [supersededBranch('generateCertificate'), ...retryOrFail('generateCertificate', '#rotation.failed')],
    }),
    polling: workingState('Waiting for Key Vault to issue the certificate', {
      // Journaled as the generateCertificate step: it is that step's second half (src/machines/steps.ts).
      id: 'awaitCertificate',
      src: 'awaitCertificate',
      input: ({ context }: ContextArgs) => ({
        runId: context.settings.runId,
        operation: context.operation ?? missing('the create operation'),
      }),
      onDone: {
        target: '#rotation.attaching',
        actions: [
          { type: 'recordGenerated', params: resultOf<AwaitCertificateResult> },
          stepSucceeded('generateCertificate', 'created'),
        ],
      },
      // The create it waited on may turn out to be another agent's (its version tagged with that run): superseded.
      onError: [supersededBranch('generateCertificate'), ...retryOrFail('generateCertificate', '#rotation.failed')],
    }),
  },
  backingOff: {
    title: 'Waiting before trying Key Vault again',
    wakeTo: [{ guard: 'hasOperation', target: 'polling' }, { target: 'requesting' }],
  },
});

/** `attaching`: add the new key to the app (running), then wait until Entra issues tokens for it (propagating). */
export const attaching = gatedStep({
  title: 'Add the new key to the app registration',
  gate: {
    title: 'Waiting for confirmation to add the new key to the app',
    step: 'attachKeyCredential',
    parkInfo: declinedTo('attaching'),
  },
  states: {
    running: workingState('Adding the new key to the app', {
      id: 'attachKeyCredential',
      src: 'attachKeyCredential',
      input: ({ context }: ContextArgs) => {
        const proofKey = currentKeyRef(context);
        return {
          runId: context.settings.runId,
          appId: context.settings.appId,
          newKey: requireNewKey(context),
          ...(proofKey ? { proofKey } : {}),
          attempt: context.attempt,
          ...premisesInput(context),
        };
      },
      onDone: {
        target: 'propagating',
        actions: [
          { type: 'recordAttached', params: resultOf<AttachResult> },
          { type: 'startVerifyClock', params: endedAtOf },
          recordStep('stepSucceeded', 'attachKeyCredential', (result: AttachResult) => ({
            detail: `keyId ${result.keyId} (${result.method})`,
            skipped: result.method === 'alreadyAttached',
          })),
        ],
      },
      onError: [
        supersededBranch('attachKeyCredential'),
        retryAfterBackoff('attachKeyCredential'),
        // The key may or may not be on the app now: rollback observes and withdraws whatever is there.
        failStep('attachKeyCredential', '#rotation.rollingBack'),
      ],
    }),
    propagating: workingState('Waiting until Entra accepts the new key', {
      // The server gets the new key only once Entra issues tokens for it: installing it earlier would leave the
      // server unable to authenticate for as long as propagation takes (minutes, no SLA).
      id: 'awaitPropagation',
      src: 'awaitPropagation',
      input: ({ context }: ContextArgs) => ({
        appId: context.settings.appId,
        newKey: requireNewKey(context),
        ...(context.settings.dataverseUrl ? { dataverseUrl: context.settings.dataverseUrl } : {}),
      }),
      onDone: { target: '#rotation.installing', actions: stepSucceeded('awaitPropagation') },
      onError: [
        retryAfterBackoff('awaitPropagation'),
        // Entra unreachable the whole time says nothing about the key: park, and look again on resume.
        parkWhenUnreachable('awaitPropagation', 'attaching.propagating'),
        failStep('awaitPropagation', '#rotation.rollingBack'),
      ],
    }),
  },
  backingOff: {
    title: 'Waiting before trying Graph or Entra again',
    wakeTo: [{ guard: 'keyAttached', target: 'propagating' }, { target: 'running' }],
  },
});

/** `installing`: put the new key on the server, or park for a person when the server is `manual`. */
export const installing = gatedStep({
  title: 'Install the new key on the server',
  gate: {
    title: 'Waiting for confirmation to install the new key on the server',
    step: 'installServerKey',
    parkInfo: declinedTo('installing'),
  },
  states: {
    running: workingState('Installing the new key on the server', {
      id: 'installServerKey',
      src: 'installServerKey',
      input: ({ context }: ContextArgs) => ({
        runId: context.settings.runId,
        appId: context.settings.appId,
        ...(context.settings.keyVault ? { certificate: context.settings.keyVault.certificate } : {}),
        newKey: requireNewKey(context),
        operatorConfirmed: context.operatorConfirmed,
        ...premisesInput(context),
      }),
      onDone: [
        {
          guard: { type: 'serverIsManual', params: statusOf<InstallResult['status']> },
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
            recordStep('stepSucceeded', 'installServerKey', (result: InstallResult) => ({
              detail: result.status,
              skipped: result.status === 'alreadyInstalled',
            })),
            { type: 'startVerifyClock', params: endedAtOf },
          ],
        },
      ],
      onError: [supersededBranch('installServerKey'), ...retryOrFail('installServerKey', '#rotation.rollingBack')],
    }),
  },
  backingOff: 'Waiting before trying the server again',
});

/** `rollingBack`: put the old key back on the server and withdraw the new one (keyvault only: I1 holds throughout). */
export const rollingBack = gatedStep({
  title: 'Put the old key back and withdraw the new one',
  gate: {
    title: 'Waiting for confirmation to roll back',
    step: 'rollBackRotation',
    parkInfo: declinedTo('rollingBack'),
  },
  states: {
    running: workingState(
      'Rolling back',
      {
        id: 'rollBackRotation',
        src: 'rollBackRotation',
        input: ({ context }: ContextArgs) => {
          const current = context.current ?? missing('the current key');
          const newKey = newKeyRef(context);
          return {
            runId: context.settings.runId,
            appId: context.settings.appId,
            ...premisesInput(context),
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
            guard: { type: 'serverIsManual', params: statusOf<RollbackResult['status']> },
            target: '#rotation.awaitingOperator',
            actions: parkAfterStep('rollBackRotation', parkMessages.manualRestore),
          },
          {
            target: '#rotation.rolledBack',
            actions: recordStep('stepSucceeded', 'rollBackRotation', (result: RollbackResult) => ({
              detail:
                `server ${result.serverRestored}, new key ${result.keyRemoved}, ` +
                `new version ${result.versionDisabled}`,
            })),
          },
        ],
        onError: [supersededBranch('rollBackRotation'), ...retryOrFail('rollBackRotation', '#rotation.failed')],
      },
      ['step', 'destructive'],
    ),
  },
  backingOff: 'Waiting before trying the rollback again',
});

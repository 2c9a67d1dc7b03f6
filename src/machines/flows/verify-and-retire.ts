/**
 * The tail both kinds share: verify the new key (keyvault: a token, WhoAmI and the server; power-pages: the site's
 * health), then retire the old one. What differs by kind is one branch each, named for its kind: a failed
 * power-pages verification parks (the site runs on the platform's key whatever its health), a failed keyvault one
 * rolls back; each kind's retirement record is written by its flow file.
 */
import { declinedTo, parkMessages } from '../park-messages.js';
import { missing } from '../rotation-context.js';
import { newKeyRef } from '../rotation-policies.js';
import {
  endedAtOf,
  failStep,
  gatedStep,
  parkAfterFailure,
  recordStep,
  retriedStep,
  retryAfterBackoff,
  stepSucceeded,
  workingState,
} from '../rotation-states.js';
import type { RetireResult, RotationContext } from '../rotation-types.js';
import { keyVaultRetirementRecord } from './keyvault.js';
import { premisesInput, supersededBranch } from './superseded.js';
import { powerPagesRetirementRecord } from './power-pages.js';

interface ContextArgs {
  context: RotationContext;
}

/** verifying: both done branches (grace period or not) record when the new key was verified. */
function verified() {
  return [{ type: 'recordVerified', params: endedAtOf }, stepSucceeded('verifyNewKey')] as const;
}

/** How the retire step's record reads, by kind. */
function retirementRecord(result: RetireResult, context: RotationContext): { detail: string; skipped?: boolean } {
  return context.settings.kind === 'power-pages'
    ? powerPagesRetirementRecord(context, result)
    : keyVaultRetirementRecord(result);
}

/** `verifying`: the new key works (I2: nothing is retired before this succeeds). */
export const verifying = retriedStep({
  title: 'Verify the new key: token, WhoAmI, server',
  states: {
    running: workingState('Acquiring a token with the new key', {
      id: 'verifyNewKey',
      src: 'verifyNewKey',
      input: ({ context }: ContextArgs) => ({
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
    }),
  },
  backingOff: 'Waiting for Entra to propagate the new key',
});

/** `retiring`: remove the old key from the app (and disable its Key Vault version); a failure parks, never undoes. */
export const retiring = gatedStep({
  title: 'Remove the old key from the app and disable its version',
  gate: {
    title: 'Waiting for confirmation to remove the old key',
    step: 'retireOldKey',
    parkInfo: declinedTo('retiring'),
  },
  states: {
    running: workingState(
      'Removing the old key',
      {
        id: 'retireOldKey',
        src: 'retireOldKey',
        input: ({ context }: ContextArgs) => {
          const newKey = newKeyRef(context);
          const current = context.current ?? missing('the current key');
          return {
            kind: context.settings.kind,
            ...premisesInput(context),
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
          actions: recordStep('stepSucceeded', 'retireOldKey', retirementRecord),
        },
        onError: [
          supersededBranch('retireOldKey'),
          retryAfterBackoff('retireOldKey'),
          {
            // Safe to stop here: the new key works and is in use, the old one is merely still attached.
            target: '#rotation.awaitingOperator',
            actions: parkAfterFailure('retireOldKey', parkMessages.retireFailed),
          },
        ],
      },
      ['step', 'destructive'],
    ),
  },
  backingOff: 'Waiting before trying the removal again',
});

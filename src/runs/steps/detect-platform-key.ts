import { isCertificateCredential } from '../../machines/rotation-policies.js';
import type { DetectPlatformKeyInput, DetectPlatformKeyResult } from '../../machines/rotation-types.js';
import { sameThumbprint } from './step-ports.js';
import type { RotationPorts, StepContext } from './step-ports.js';

/**
 * power-pages: finds the key the platform attached after the admin pressed Update key: a certificate credential
 * that was not on the app at preflight. Read-only, so safe to re-run; "not yet" parks the run again.
 */
export async function detectPlatformKey(
  ports: RotationPorts,
  input: DetectPlatformKeyInput,
  step: StepContext,
): Promise<DetectPlatformKeyResult> {
  const app = await ports.apps.getApp(input.appId, { signal: step.signal });
  const added = app.keyCredentials
    .filter(isCertificateCredential)
    .filter((c) => !input.observedKeyIds.includes(c.keyId) && !sameThumbprint(c.thumbprint, input.oldThumbprint))
    .sort((a, b) => Date.parse(b.startDateTime) - Date.parse(a.startDateTime))[0];
  return added
    ? { status: 'found', keyId: added.keyId, thumbprint: added.thumbprint.toUpperCase(), expiresOn: added.endDateTime }
    : { status: 'notYet' };
}

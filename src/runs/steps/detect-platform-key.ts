import { isCertificateCredential } from '../../machines/rotation-policies.js';
import type { DetectPlatformKeyInput, DetectPlatformKeyResult } from '../../machines/rotation-types.js';
import { sameThumbprint } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * power-pages: finds the key the platform attached after the admin pressed Update key: a certificate credential that
 * was not on the app at preflight, with another thumbprint than the old key and a later end. Read-only, so safe to
 * re-run; "not yet" lets the machine poll again or park.
 */
export async function detectPlatformKey(
  ports: RotationPorts,
  input: DetectPlatformKeyInput,
  step: StepContext,
): Promise<DetectPlatformKeyResult> {
  const app = await ports.apps.getApp(input.appId, { signal: step.signal });
  const certificates = app.keyCredentials.filter(isCertificateCredential);
  const oldEnd = input.oldExpiresOn ? Date.parse(input.oldExpiresOn) : -Infinity;
  const added = certificates
    .filter((c) => !input.observedKeyIds.includes(c.keyId) && !sameThumbprint(c.thumbprint, input.oldThumbprint))
    // A key that ends no later than the old one is not a renewal (someone else's credential, or a stale one).
    .filter((c) => Date.parse(c.endDateTime) > oldEnd)
    .sort((a, b) => Date.parse(b.startDateTime) - Date.parse(a.startDateTime))[0];
  if (!added) return { status: 'notYet' };
  return {
    status: 'found',
    keyId: added.keyId,
    thumbprint: added.thumbprint.toUpperCase(),
    expiresOn: added.endDateTime,
    keySet: certificates.map((c) => ({
      keyId: c.keyId,
      thumbprint: c.thumbprint.toUpperCase(),
      endDateTime: c.endDateTime,
    })),
  };
}

import { preflightVerdict } from '../machines/preflight.js';
import { rotationDue } from '../machines/rotation-policies.js';
import type { CurrentKey, RotationInput, TargetObservation } from '../machines/rotation-types.js';

const DAY = 86_400_000;

/**
 * The scan columns of a key in service: thumbprint, expiry, whole days left and `ok`/`due`/`expired`, judged by the
 * same `rotateBefore` policy the machine's preflight uses — shared by configured targets and discovered sites.
 */
export function certificateStatus(key: CurrentKey, now: number, settings: RotationInput) {
  const msLeft = Date.parse(key.expiresOn) - now;
  return {
    credential: 'certificate' as const,
    thumbprint: key.thumbprint,
    expiresOn: key.expiresOn,
    daysLeft: Math.floor(msLeft / DAY),
    status: msLeft <= 0 ? ('expired' as const) : rotationDue(key, now, settings) ? ('due' as const) : ('ok' as const),
  };
}

/**
 * A scan row's key columns from the machine's preflight verdict, so scan reports what a rotation would find, for
 * configured targets and discovered sites alike: `federated`, `noKey` with the reason, or the key's status.
 */
export function keyColumns(observation: TargetObservation, settings: RotationInput) {
  const none = { thumbprint: null, expiresOn: null, daysLeft: null };
  const decision = preflightVerdict(observation, settings);
  switch (decision.reason) {
    case 'UsesPlatformIdentity':
      return { credential: 'federated' as const, ...none, status: 'federated' as const };
    case 'NoUsableCurrentKey':
      return { credential: 'unknown' as const, ...none, status: 'noKey' as const, error: decision.message };
    default:
      return certificateStatus(decision.key, observation.now, settings);
  }
}

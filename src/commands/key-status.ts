import { rotationDue } from '../machines/rotation-policies.js';
import type { CurrentKey, RotationInput } from '../machines/rotation-types.js';

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

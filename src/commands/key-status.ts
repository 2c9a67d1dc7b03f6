import { preflightVerdict, SUMMARY_MAX } from '../machines/preflight.js';
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

/** A reason cut to fit a table cell (at most {@link SUMMARY_MAX} characters); the full text goes to JSON. */
export function shortReason(text: string): string {
  const firstLine = text.split('\n')[0]!.trim();
  return firstLine.length <= SUMMARY_MAX ? firstLine : `${firstLine.slice(0, SUMMARY_MAX - 1).trimEnd()}…`;
}

/**
 * A scan row's key columns from the machine's preflight verdict, so scan reports what a rotation would find, for
 * configured targets and discovered sites alike: `federated`; `broken` (no key in service to rotate from) or
 * `blocked` (due, but the rotation could not finish) with the short reason in `reason` and the full one in `error`;
 * or the key's status.
 */
export function keyColumns(observation: TargetObservation, settings: RotationInput) {
  const none = { thumbprint: null, expiresOn: null, daysLeft: null };
  const decision = preflightVerdict(observation, settings);
  switch (decision.reason) {
    case 'UsesPlatformIdentity':
      return { credential: 'federated' as const, ...none, status: 'federated' as const };
    case 'NoUsableCurrentKey':
      return {
        credential: 'unknown' as const,
        ...none,
        status: 'broken' as const,
        reason: decision.summary,
        error: decision.message,
      };
    case 'CannotRetireOldKey':
      return {
        ...certificateStatus(decision.key, observation.now, settings),
        status: 'blocked' as const,
        reason: decision.summary,
        error: decision.message,
      };
    default:
      return certificateStatus(decision.key, observation.now, settings);
  }
}

/** The STATUS cell: the status and a short reason; the full error is printed beneath the table. */
export function statusCell(r: { status: string; error?: string; reason?: string }): string {
  const why = r.reason ?? (r.error ? shortReason(r.error) : undefined);
  return r.status + (why ? ` (${why})` : '');
}

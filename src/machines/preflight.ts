/**
 * The preflight verdict: whether a target is rotated, left alone or refused, decided once from what preflight
 * observed. A chain of named conditions is evaluated in order and the first that holds decides (cert-manager's
 * trigger policy chain is the model); when none holds, the key is due and the rotation goes ahead. The machine's
 * preflight guards, `plan` and `scan` all switch on this verdict, so they cannot disagree on what "federated", "no
 * usable key" or "not due" mean.
 *
 * Pure: the clock comes in as `observation.now`.
 */
import {
  cannotRetireReason,
  PLATFORM_IDENTITY_MESSAGE,
  rotationDue,
  selectCurrentKey,
  usesPlatformIdentity,
} from './rotation-policies.js';
import type { CurrentKeySelection } from './rotation-policies.js';
import type { CurrentKey, RotationInput, TargetObservation } from './rotation-types.js';
import { describeDuration } from './steps.js';

/** The named conditions, in the order they are evaluated, and `RotationDue` when none of them holds. */
export type PreflightReason =
  /** power-pages: the app is on the platform-managed identity (federated credential, no certificate): no key. */
  | 'UsesPlatformIdentity'
  /** No key in service that certrotate can rotate from (the server's key is not on the app, no vault version, …). */
  | 'NoUsableCurrentKey'
  /** The key in service expires later than `rotateBefore` (and `force` is not set). */
  | 'RotationNotDue'
  /** power-pages: certrotate's identity may not PATCH the app, so it could not remove the old key afterwards. */
  | 'CannotRetireOldKey'
  /** None of the above: the key is due (or `force` is set), so the rotation goes ahead. */
  | 'RotationDue';

/** What preflight decides: rotate, leave the target as it is, or refuse until a person fixes something. */
export type Verdict = 'rotate' | 'noChange' | 'cannotRotate';

/**
 * The verdict with its reason and a sentence for a person; `key` is the key in service when there is one. A refusal
 * also carries `summary`, the reason in a clause short enough for a table cell (at most {@link SUMMARY_MAX} chars).
 */
export type PreflightDecision =
  | { verdict: 'noChange'; reason: 'UsesPlatformIdentity'; message: string }
  | { verdict: 'cannotRotate'; reason: 'NoUsableCurrentKey'; message: string; summary: string }
  | { verdict: 'noChange'; reason: 'RotationNotDue'; message: string; key: CurrentKey }
  | { verdict: 'cannotRotate'; reason: 'CannotRetireOldKey'; message: string; summary: string; key: CurrentKey }
  | { verdict: 'rotate'; reason: 'RotationDue'; message: string; key: CurrentKey };

/** The longest `summary` a refusal carries: it fits a scan table cell; the full `message` goes to JSON and details. */
export const SUMMARY_MAX = 80;

/**
 * How a target stands, for every reader that reports on it (scan, plan, their exit codes): `broken` when no key in
 * service can be rotated from (the server's key is not on the app, no usable key) — an outage or one waiting to
 * happen, which a person must fix; `blocked` when the key is due but certrotate could not finish a rotation (it may
 * not retire the old key); `pending` when a rotation is due; `settled` when nothing is to be done.
 */
export type TargetStanding = 'broken' | 'blocked' | 'pending' | 'settled';

/** The standing the verdict implies (see {@link TargetStanding}). */
export function standingOf(decision: PreflightDecision): TargetStanding {
  switch (decision.reason) {
    case 'NoUsableCurrentKey':
      return 'broken';
    case 'CannotRetireOldKey':
      return 'blocked';
    case 'RotationDue':
      return 'pending';
    default:
      return 'settled';
  }
}

/** Why no key in service could be selected, in a short clause (the selection's message is the full sentence). */
function noKeySummary(observation: TargetObservation, settings: RotationInput): string {
  const server = observation.server.thumbprint;
  const onApp = (t: string) => observation.app.keyCredentials.some((c) => c.thumbprint.toUpperCase() === t);
  if (settings.kind === 'keyvault' && server !== undefined && !onApp(server.toUpperCase())) {
    return `the server's key ${server.toUpperCase().slice(0, 8)}… is not on the app`;
  }
  return settings.kind === 'power-pages'
    ? 'the app has no certificate credential'
    : 'no enabled Key Vault version is on the app';
}

/** What every condition reads: the observation, the target's settings and the key in service as selected once. */
export interface PreflightInput {
  observation: TargetObservation;
  settings: RotationInput;
  selection: CurrentKeySelection;
}

/** One link of the chain: the decision when its condition holds, undefined when it does not. */
export interface PreflightCondition {
  reason: Exclude<PreflightReason, 'RotationDue'>;
  check: (input: PreflightInput) => PreflightDecision | undefined;
}

const DAY = 86_400_000;

function daysLeft(key: CurrentKey, now: number): number {
  return Math.floor((Date.parse(key.expiresOn) - now) / DAY);
}

/** The chain, in evaluation order: a site with no key is never "unusable", an unusable key is never "not due". */
export const PREFLIGHT_CHAIN: readonly PreflightCondition[] = [
  {
    reason: 'UsesPlatformIdentity',
    check: ({ observation, settings }) =>
      settings.kind === 'power-pages' && usesPlatformIdentity(observation)
        ? { verdict: 'noChange', reason: 'UsesPlatformIdentity', message: PLATFORM_IDENTITY_MESSAGE }
        : undefined,
  },
  {
    reason: 'NoUsableCurrentKey',
    check: ({ observation, settings, selection }) =>
      selection.ok
        ? undefined
        : {
            verdict: 'cannotRotate',
            reason: 'NoUsableCurrentKey',
            message: selection.message,
            summary: noKeySummary(observation, settings),
          },
  },
  {
    reason: 'RotationNotDue',
    check: ({ observation, settings, selection }) => {
      if (!selection.ok || rotationDue(selection.key, observation.now, settings)) return undefined;
      const key = selection.key;
      return {
        verdict: 'noChange',
        reason: 'RotationNotDue',
        key,
        message:
          `key ${key.thumbprint} expires ${key.expiresOn} (${daysLeft(key, observation.now)} days left); not due ` +
          `before ${describeDuration(settings.rotateBeforeMs)}`,
      };
    },
  },
  {
    reason: 'CannotRetireOldKey',
    check: ({ observation, settings, selection }) => {
      const why = cannotRetireReason(observation, settings);
      return selection.ok && why !== undefined
        ? {
            verdict: 'cannotRotate',
            reason: 'CannotRetireOldKey',
            key: selection.key,
            message: why,
            summary: "due, but certrotate's identity may not change the app",
          }
        : undefined;
    },
  },
];

/** The preflight decision for one target: the first condition of {@link PREFLIGHT_CHAIN} that holds, else due. */
export function preflightVerdict(observation: TargetObservation, settings: RotationInput): PreflightDecision {
  const input: PreflightInput = { observation, settings, selection: selectCurrentKey(observation, settings) };
  for (const condition of PREFLIGHT_CHAIN) {
    const decision = condition.check(input);
    if (decision) return decision;
  }
  // Every condition above returns when the selection failed, so a key is in service here.
  if (!input.selection.ok) throw new Error('preflight: no condition decided a run without a key in service');
  const key = input.selection.key;
  return {
    verdict: 'rotate',
    reason: 'RotationDue',
    key,
    message:
      settings.force === true
        ? `key ${key.thumbprint} expires ${key.expiresOn}: rotation forced`
        : `key ${key.thumbprint} expires ${key.expiresOn} (${daysLeft(key, observation.now)} days left): due within ` +
          describeDuration(settings.rotateBeforeMs),
  };
}

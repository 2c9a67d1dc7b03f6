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

/** The verdict with its reason and a sentence for a person; `key` is the key in service when there is one. */
export type PreflightDecision =
  | { verdict: 'noChange'; reason: 'UsesPlatformIdentity'; message: string }
  | { verdict: 'cannotRotate'; reason: 'NoUsableCurrentKey'; message: string }
  | { verdict: 'noChange'; reason: 'RotationNotDue'; message: string; key: CurrentKey }
  | { verdict: 'cannotRotate'; reason: 'CannotRetireOldKey'; message: string; key: CurrentKey }
  | { verdict: 'rotate'; reason: 'RotationDue'; message: string; key: CurrentKey };

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
    check: ({ selection }) =>
      selection.ok ? undefined : { verdict: 'cannotRotate', reason: 'NoUsableCurrentKey', message: selection.message },
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
        ? { verdict: 'cannotRotate', reason: 'CannotRetireOldKey', key: selection.key, message: why }
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

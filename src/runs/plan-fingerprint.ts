/**
 * The plan's fingerprint: sha256 of the canonical observation (src/machines/plan.ts), here because src/machines may
 * not import node:crypto. `rotate --plan FILE` recomputes it from a fresh observation and refuses a stale plan.
 */
import { createHash } from 'node:crypto';
import { planRotation, type RotationPlan } from '../machines/plan.js';
import type { RotationInput, TargetObservation } from '../machines/rotation-types.js';

/** `sha256:<hex>` of the canonical observation text. */
export function fingerprintOf(canonical: string): string {
  return `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

/** The full plan document for an observation, fingerprint included. */
export function buildPlan(observation: TargetObservation, settings: RotationInput): RotationPlan {
  const { plan, canonical } = planRotation(observation, settings);
  return { ...plan, fingerprint: fingerprintOf(canonical) };
}

/** Why a saved plan no longer applies to what is observed now, or undefined when it still does. */
export function planStaleness(
  saved: Pick<RotationPlan, 'fingerprint' | 'target'>,
  observation: TargetObservation,
  settings: RotationInput,
): string | undefined {
  if (saved.target !== settings.target) return `the plan is for target ${saved.target}, not ${settings.target}`;
  const now = fingerprintOf(planRotation(observation, settings).canonical);
  return now === saved.fingerprint
    ? undefined
    : `the plan is stale: the app, the vault or the server changed since it was made (${saved.fingerprint} ≠ ${now})`;
}

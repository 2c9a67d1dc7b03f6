/**
 * The plan's fingerprint: sha256 of the canonical observation (src/machines/plan.ts), here because src/machines may
 * not import node:crypto. `rotate --plan FILE` recomputes it from a fresh observation and refuses a stale plan.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, factChanges, planRotation, type RotationPlan } from '../machines/plan.js';
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

/**
 * Why a saved plan no longer applies to what is observed now, or undefined when it still does. When the plan file
 * carries its facts (and they still hash to its fingerprint), the message names each fact that changed.
 */
export function planStaleness(
  saved: Pick<RotationPlan, 'fingerprint' | 'target' | 'facts'>,
  observation: TargetObservation,
  settings: RotationInput,
): string | undefined {
  if (saved.target !== settings.target) return `the plan is for target ${saved.target}, not ${settings.target}`;
  const fresh = planRotation(observation, settings);
  const now = fingerprintOf(fresh.canonical);
  if (now === saved.fingerprint) return undefined;
  const facts = saved.facts;
  if (facts && fingerprintOf(canonicalJson(facts)) !== saved.fingerprint) {
    return `the plan file was altered: its facts do not match its fingerprint ${saved.fingerprint}`;
  }
  const changes = facts && fresh.plan.facts ? factChanges(facts, fresh.plan.facts) : [];
  return changes.length > 0
    ? `the plan is stale: ${changes.join('; ')} since it was made`
    : `the plan is stale: the app, the vault or the server changed since it was made (${saved.fingerprint} ≠ ${now})`;
}

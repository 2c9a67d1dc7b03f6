import type { RotationInput, TargetObservation } from '../machines/rotation-types.js';
import type { RotationPorts } from '../runs/driver.js';
import { observeTarget as observeStep } from '../runs/steps/observe-target.js';

/**
 * Reads everything a plan, a scan or a `--plan` check decides from, through the same read-only step the machine's
 * preflight runs, so the three can never disagree about what they saw (I6: reads only).
 */
export function observeTarget(
  ports: RotationPorts,
  input: RotationInput,
  signal?: AbortSignal,
): Promise<TargetObservation> {
  return observeStep(
    ports,
    {
      runId: input.runId,
      kind: input.kind,
      appId: input.appId,
      ...(input.keyVault ? { certificate: input.keyVault.certificate } : {}),
      ...(input.site ? { site: input.site } : {}),
    },
    { signal: signal ?? new AbortController().signal, rerun: false },
  );
}

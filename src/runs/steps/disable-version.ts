import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/** Disables a Key Vault version unless it already is (or is gone): idempotent by observation. */
export async function disableVersion(
  ports: RotationPorts,
  certificate: string,
  version: string,
  step: StepContext,
): Promise<'disabled' | 'alreadyDisabled'> {
  const current = await ports.certificates.getVersion(certificate, version, { signal: step.signal });
  if (!current || !current.enabled) return 'alreadyDisabled';
  await ports.certificates.setVersionEnabled(certificate, version, false, { signal: step.signal });
  return 'disabled';
}

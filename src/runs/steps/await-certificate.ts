import { AdapterError } from '../../adapters/ports.js';
import type { AwaitCertificateInput, AwaitCertificateResult } from '../../machines/rotation-types.js';
import { toNewKey } from './generate-certificate.js';
import { checkCreatedVersion } from './premises.js';
import { timingOf } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Polls the run's pending create until Key Vault issues the version. Read-only (it resumes the operation from its
 * persisted state and never POSTs), so a restored run simply polls again.
 *
 * Premise (I7): the version the create produced must be this run's (its tag): a create another agent started at the
 * same moment, adopted while pending because it showed no tag yet, is that run's; this run then fails `superseded`.
 */
export async function awaitCertificate(
  ports: RotationPorts,
  input: AwaitCertificateInput,
  step: StepContext,
): Promise<AwaitCertificateResult> {
  const timing = timingOf(ports);
  const deadline = ports.clock.now() + timing.createTimeoutMs;
  for (;;) {
    const status = await ports.certificates.pollCreate(input.operation, { signal: step.signal });
    if (status.status === 'completed') {
      checkCreatedVersion(status.version, input.runId, input.operation.certificateName);
      return { key: toNewKey(status.version) };
    }
    if (status.status === 'failed') throw new AdapterError({ ...status.error, retryable: false });
    if (ports.clock.now() >= deadline) {
      throw new AdapterError({
        code: 'timeout',
        message: `certificate ${input.operation.certificateName} still pending after ${timing.createTimeoutMs} ms`,
        retryable: true,
      });
    }
    await ports.clock.sleep(timing.createPollMs, step.signal);
  }
}

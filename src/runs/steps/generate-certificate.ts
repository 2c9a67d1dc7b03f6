import { AdapterError, toPortError } from '../../adapters/ports.js';
import type { CertificateVersion } from '../../adapters/ports.js';
import { RUN_ID_TAG } from '../../machines/rotation-policies.js';
import type { GenerateInput, GenerateResult, NewKey } from '../../machines/rotation-types.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';
import { checkCreatedVersion, checkVaultPremise } from './premises.js';

export function toNewKey(version: CertificateVersion): NewKey {
  return {
    version: version.version,
    thumbprint: version.thumbprint.toUpperCase(),
    secretId: version.secretId,
    expiresOn: version.expiresOn,
    notBefore: version.notBefore,
  };
}

/**
 * Starts (or finds) the run's new Key Vault version.
 *
 * Safe to re-run: every version this step creates carries the run id tag, and the step looks, in order, for a
 * version with that tag (the create finished, perhaps in a process that died), for the operation the snapshot holds,
 * and for a create pending on the certificate, before it POSTs a create. So a resumed run never makes a second
 * version. The returned operation state is persisted by the machine, so a later attempt polls instead of creating.
 *
 * Premise (I7): the versions it lists to find its own also show whether another version took over the certificate
 * since preflight (a newer enabled version not made by this run); then it creates nothing and fails `superseded`.
 * The check reads only, so re-running it is safe.
 */
export async function generateCertificate(
  ports: RotationPorts,
  input: GenerateInput,
  step: StepContext,
): Promise<GenerateResult> {
  const options = { signal: step.signal };
  const store = ports.certificates;
  // One list answers both questions: is this run's version there, and did another version take over since preflight.
  const versions = await store.listVersions(input.certificate, options).catch((thrown: unknown) => {
    if (toPortError(thrown).code === 'notFound') return [];
    throw thrown;
  });
  if (input.premises) checkVaultPremise(versions, input.premises, input.runId, input.certificate);
  const tagged = versions.filter((v) => v.tags[RUN_ID_TAG] === input.runId).at(-1);
  if (tagged) return { status: 'ready', key: toNewKey(tagged), reused: true };

  if (input.operation) {
    const status = await store.pollCreate(input.operation, options);
    if (status.status === 'completed') {
      checkCreatedVersion(status.version, input.runId, input.certificate);
      return { status: 'ready', key: toNewKey(status.version), reused: true };
    }
    if (status.status === 'inProgress') return { status: 'pending', operation: input.operation, reused: true };
    throw new AdapterError({ ...status.error, retryable: false });
  }

  const pending = await store.getPendingCreate(input.certificate, options);
  if (pending) {
    // Only one run per target holds the lock (I5), so an untagged pending create is this run's own, started by a
    // process that died before its snapshot was written. One tagged with another run is not ours to adopt.
    if (pending.runId !== undefined && pending.runId !== input.runId) {
      throw new AdapterError({
        code: 'conflict',
        message: `a create started by run ${pending.runId} is pending on certificate ${input.certificate}`,
        retryable: false,
      });
    }
    return { status: 'pending', operation: pending.operation, reused: true };
  }

  if (step.signal.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
  const operation = await store.beginCreate(input.certificate, input.policy, { [RUN_ID_TAG]: input.runId }, options);
  return { status: 'pending', operation, reused: false };
}

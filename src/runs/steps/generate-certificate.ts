import { AdapterError, toPortError } from '../../adapters/ports.js';
import type { CertificateVersion, PendingCreate } from '../../adapters/ports.js';
import { RUN_ID_TAG } from '../../machines/rotation-policies.js';
import type { GenerateInput, GenerateResult, NewKey } from '../../machines/rotation-types.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';
import { checkCreatedVersion, checkVaultPremise, superseded } from './premises.js';

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
 *
 * Another agent (its own state directory and lock) may start a create of the same certificate between this step's
 * look for a pending create and its own POST; Key Vault then refuses this run's create (409, a pending operation is in
 * progress). That is another run's change, not a failure: the step adopts the pending create as it would one found a
 * moment earlier, and the poll that follows names whose version it made (superseded by that run, `checkCreatedVersion`).
 * A pending create that names another run (where Key Vault reports its tag) is that run's rotation: superseded.
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
  if (pending) return adoptPending(pending, input);

  if (step.signal.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
  try {
    const operation = await store.beginCreate(input.certificate, input.policy, { [RUN_ID_TAG]: input.runId }, options);
    return { status: 'pending', operation, reused: false };
  } catch (thrown) {
    if (toPortError(thrown).code !== 'conflict') throw thrown;
    // Refused because a create is in progress: one that started after the look above (another agent's, racing this
    // one). Any other conflict (a soft-deleted name) leaves nothing pending, and stays the failure it is.
    const racing = await store.getPendingCreate(input.certificate, options);
    if (!racing) throw thrown;
    return adoptPending(racing, input);
  }
}

/**
 * A create pending on the certificate. Only one run per target holds the lock here (I5), so an untagged one is taken
 * as this run's own, started by a process that died before its snapshot was written, or another agent's whose version
 * will name it when it completes (the poll checks). One tagged with another run is that run's rotation in progress.
 */
function adoptPending(pending: PendingCreate, input: GenerateInput): GenerateResult {
  if (pending.runId !== undefined && pending.runId !== input.runId) {
    superseded(
      `run ${pending.runId} is creating a new version of Key Vault certificate ${input.certificate} (its create is ` +
        'pending): that run is rotating this target now',
    );
  }
  return { status: 'pending', operation: pending.operation, reused: true };
}

import type { KeyCredential } from '../../adapters/ports.js';
import { isPortError, toPortError } from '../../adapters/ports.js';
import { credentialValidAt, isCertificateCredential } from '../../machines/rotation-policies.js';
import type { AttachInput, AttachResult } from '../../machines/rotation-types.js';
import { credentialDisplayName } from '../../machines/world-markers.js';
import { checkAppPremise } from './premises.js';
import { readUntilSettled, sameThumbprint } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Adds the new key to the app registration: Graph `addKey` with a proof signed by the current key, or a merge-PATCH
 * when no current key can sign (none in the vault, or the proof is refused).
 *
 * Safe to re-run: it first reads the app and skips when a credential with the new thumbprint is there. When an
 * earlier attempt may have added it (a retry or a resumed run), it keeps reading for the directory's read-lag
 * window before it believes the key is absent, so a lagging read does not add a second credential (I3).
 *
 * The credential it adds is named `certrotate <runId>` (the world marker), so any agent can tell which run added it.
 * Premise (I7): the app read it makes anyway also shows whether the old key is still on the app and whether a newer
 * credential another run added appeared since preflight; then it adds nothing and fails `superseded`. The check
 * reads only and runs before the write, so re-running it is safe (a key this run added is never "another run's").
 */
export async function attachKeyCredential(
  ports: RotationPorts,
  input: AttachInput,
  step: StepContext,
): Promise<AttachResult> {
  const rerun = step.rerun || input.attempt > 1;
  let proofUsable = false;
  let lastRead: Parameters<typeof checkAppPremise>[0] | undefined;
  const existing = await readUntilSettled(
    ports,
    input.appId,
    (app) => {
      lastRead = app;
      proofUsable =
        input.proofKey !== undefined &&
        app.keyCredentials.some(
          (c: KeyCredential) =>
            isCertificateCredential(c) &&
            sameThumbprint(c.thumbprint, input.proofKey?.thumbprint) &&
            credentialValidAt(c, ports.clock.now()),
        );
      return app.keyCredentials.find((c) => sameThumbprint(c.thumbprint, input.newKey.thumbprint));
    },
    { ...step, rerun },
  );
  if (input.premises && lastRead) {
    checkAppPremise(
      lastRead,
      input.premises,
      { runId: input.runId, thumbprint: input.newKey.thumbprint },
      ports.clock.now(),
    );
  }
  if (existing) return { keyId: existing.keyId, method: 'alreadyAttached' };

  const options = { signal: step.signal, runId: input.runId, displayName: credentialDisplayName(input.runId) };
  if (input.proofKey && proofUsable) {
    try {
      const added = await ports.apps.addKey(input.appId, input.newKey, input.proofKey, options);
      return { keyId: added.keyId, method: 'addKey' };
    } catch (thrown) {
      const error = toPortError(thrown);
      // A refused proof is not fatal while a PATCH can still do it; anything else (throttling, timeouts) is
      // the machine's to retry, and the next attempt observes first.
      if (!(isPortError(error) && (error.code === 'invalidProof' || error.code === 'keyExpired'))) throw thrown;
    }
  }
  const [added] = await ports.apps.patchKeyCredentials(input.appId, { add: [input.newKey] }, options);
  if (added) return { keyId: added.keyId, method: 'patch' };
  // The PATCH merge found the key already present (an earlier attempt's write became visible to it).
  const app = await ports.apps.getApp(input.appId, { signal: step.signal });
  const now = app.keyCredentials.find((c) => sameThumbprint(c.thumbprint, input.newKey.thumbprint));
  if (!now) throw new Error('PATCH added nothing and the key is not on the app');
  return { keyId: now.keyId, method: 'alreadyAttached' };
}

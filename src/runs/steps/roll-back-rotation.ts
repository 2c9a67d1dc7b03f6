import { toPortError } from '../../adapters/ports.js';
import { credentialValidAt } from '../../machines/rotation-policies.js';
import type { RollbackInput, RollbackResult } from '../../machines/rotation-types.js';
import { disableVersion } from './disable-version.js';
import { lookUpAdder, refuseThirdServerKey, superseded, thirdServerKey } from './premises.js';
import { readUntilSettled, sameThumbprint } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Undoes a run, in the order that keeps I1: the server goes back to the old key first, then the new key leaves the
 * app (only once no server uses it), then the new Key Vault version is disabled (kept for audit).
 *
 * Safe to re-run: each part observes first (which key the server uses, whether the new credential is on the app,
 * whether the version is enabled) and "already done" is success. When the run never learnt the new credential's
 * keyId (it failed or died around addKey), the app is read until the directory's read lag has passed, so a key
 * that lagging reads hide is still withdrawn.
 *
 * The restore carries the run id. Premise (I7): the server must be on the run's old or new key; on a third key, or
 * when the server refuses the restore (`serverHasNewerKey`), another rotation has taken over, and moving the server
 * back would undo it: the step fails `superseded` (whose withdrawal takes back only this run's unused key). The check
 * reads only and comes before any write, so re-running it is safe.
 */
export async function rollBackRotation(
  ports: RotationPorts,
  input: RollbackInput,
  step: StepContext,
): Promise<RollbackResult> {
  const options = { signal: step.signal };
  let serverRestored: RollbackResult['serverRestored'] = 'alreadyOld';
  if (ports.server?.manual) {
    if (input.installed && !input.operatorConfirmed) {
      return { status: 'needsOperator', serverRestored: 'manual', keyRemoved: 'none', versionDisabled: 'none' };
    }
    serverRestored = input.operatorConfirmed ? 'operatorConfirmed' : 'alreadyOld';
  } else if (ports.server && input.newKey) {
    const server = ports.server;
    const where = { appId: input.appId, ...(input.certificate ? { certificate: input.certificate } : {}) };
    const current = await server.currentKey(options);
    const third = input.premises && thirdServerKey(current.thumbprint, input.premises, input.newKey.thumbprint);
    if (third && input.premises) {
      await refuseThirdServerKey(ports, where, third, input.premises, 'move it back to the old key', step.signal);
    }
    if (!sameThumbprint(current.thumbprint, input.oldKey.thumbprint)) {
      try {
        await server.restore(input.oldKey, { ...options, runId: input.runId });
      } catch (thrown) {
        const error = toPortError(thrown);
        if (error.code !== 'serverHasNewerKey') throw thrown;
        const now = await server.currentKey(options).catch(() => ({ thumbprint: undefined }));
        const who = now.thumbprint
          ? ` (key ${now.thumbprint}, put there by ${await lookUpAdder(ports, where, now.thumbprint, step.signal)})`
          : '';
        superseded(`${error.message}${who}`);
      }
      serverRestored = 'restored';
    }
  }

  let keyRemoved: RollbackResult['keyRemoved'] = 'none';
  if (input.newKey) {
    const newThumbprint = input.newKey.thumbprint;
    const credential = await readUntilSettled(
      ports,
      input.appId,
      (app) =>
        app.keyCredentials.find(
          (c) =>
            (input.newKeyId !== undefined && c.keyId === input.newKeyId) || sameThumbprint(c.thumbprint, newThumbprint),
        ),
      { ...step, rerun: step.rerun || input.newKeyId === undefined },
    );
    if (credential) {
      const app = await ports.apps.getApp(input.appId, options);
      const oldCredential = app.keyCredentials.find((c) => sameThumbprint(c.thumbprint, input.oldKey.thumbprint));
      const oldCanSign =
        input.oldKey.secretId !== '' &&
        oldCredential !== undefined &&
        credentialValidAt(oldCredential, ports.clock.now());
      try {
        if (oldCanSign) await ports.apps.removeKey(input.appId, credential.keyId, input.oldKey, options);
        else await ports.apps.patchKeyCredentials(input.appId, { removeKeyIds: [credential.keyId] }, options);
        keyRemoved = 'removed';
      } catch (thrown) {
        if (toPortError(thrown).code !== 'notFound') throw thrown;
        keyRemoved = 'alreadyGone';
      }
    } else {
      keyRemoved = 'alreadyGone';
    }
  }

  const versionDisabled =
    input.certificate && input.newVersion
      ? await disableVersion(ports, input.certificate, input.newVersion, step)
      : 'none';
  return { status: 'rolledBack', serverRestored, keyRemoved, versionDisabled };
}

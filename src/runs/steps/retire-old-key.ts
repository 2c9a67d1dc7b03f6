import { AdapterError, toPortError } from '../../adapters/ports.js';
import type { RetireInput, RetireResult } from '../../machines/rotation-types.js';
import { sameThumbprint } from './step-ports.js';
import type { RotationPorts, StepContext } from './step-ports.js';
import { disableVersion } from './disable-version.js';

/**
 * Removes the old key from the app, then disables its Key Vault version (kept for audit).
 *
 * Safe to re-run: "already gone" is success (a read that no longer lists the key, or removeKey's notFound), and
 * disabling an already-disabled version is skipped. Before removing, it checks once more that the server no longer
 * uses the old key (I1): the machine only gets here after verification, but the server may have been changed
 * behind our back.
 */
export async function retireOldKey(ports: RotationPorts, input: RetireInput, step: StepContext): Promise<RetireResult> {
  const options = { signal: step.signal };
  if (input.kind === 'keyvault' && ports.server && !ports.server.manual) {
    const current = await ports.server.currentKey(options);
    if (sameThumbprint(current.thumbprint, input.oldThumbprint)) {
      throw new AdapterError({
        code: 'serverStillOnOldKey',
        message: `the server still uses the old key ${input.oldThumbprint}; removing it would break the server`,
        retryable: false,
      });
    }
  }

  const app = await ports.apps.getApp(input.appId, options);
  const present = app.keyCredentials.some((c) => c.keyId === input.oldKeyId);
  let keyRemoved: RetireResult['keyRemoved'] = 'alreadyGone';
  let method: RetireResult['method'];
  if (present) {
    if (input.newKey) {
      try {
        await ports.apps.removeKey(input.appId, input.oldKeyId, input.newKey, options);
        keyRemoved = 'removed';
        method = 'removeKey';
      } catch (thrown) {
        const error = toPortError(thrown);
        if (error.code === 'notFound') keyRemoved = 'alreadyGone';
        else if (error.code === 'invalidProof' || error.code === 'keyExpired') {
          await ports.apps.patchKeyCredentials(input.appId, { removeKeyIds: [input.oldKeyId] }, options);
          keyRemoved = 'removed';
          method = 'patch';
        } else throw thrown;
      }
    } else {
      await ports.apps.patchKeyCredentials(input.appId, { removeKeyIds: [input.oldKeyId] }, options);
      keyRemoved = 'removed';
      method = 'patch';
    }
  }

  const versionDisabled =
    input.certificate && input.oldVersion
      ? await disableVersion(ports, input.certificate, input.oldVersion, step)
      : 'none';
  return { keyRemoved, ...(method ? { method } : {}), versionDisabled };
}

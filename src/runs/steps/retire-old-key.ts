import { AdapterError, toPortError, type AppRegistration } from '../../adapters/ports.js';
import { credentialValidAt, isCertificateCredential } from '../../machines/rotation-policies.js';
import type { RetireInput, RetireResult } from '../../machines/rotation-types.js';
import { sameThumbprint } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';
import { disableVersion } from './disable-version.js';
import { refuseThirdServerKey, thirdServerKey } from './premises.js';

/**
 * Removes the old key from the app, then disables its Key Vault version (kept for audit).
 *
 * Safe to re-run: "already gone" is success (a read that no longer lists the key, or removeKey's notFound), and
 * disabling an already-disabled version is skipped. Before removing, it checks once more that the server no longer
 * uses the old key (I1): the machine only gets here after verification, but the server may have been changed
 * behind our back. Premise (I7): a server on a third key (neither the old nor the new one) is on another run's
 * newer rotation, which retires the old key itself; this run then removes nothing and fails `superseded`. The check
 * reads only and comes before any write, so re-running it is safe.
 */
export async function retireOldKey(ports: RotationPorts, input: RetireInput, step: StepContext): Promise<RetireResult> {
  const options = { signal: step.signal };
  if (input.kind === 'power-pages') return retirePlatformKey(ports, input, step);
  if (input.kind === 'keyvault' && ports.server && !ports.server.manual) {
    const current = await ports.server.currentKey(options);
    if (sameThumbprint(current.thumbprint, input.oldThumbprint)) {
      throw new AdapterError({
        code: 'serverStillOnOldKey',
        message: `the server still uses the old key ${input.oldThumbprint}; removing it would break the server`,
        retryable: false,
      });
    }
    const third = input.premises && thirdServerKey(current.thumbprint, input.premises, input.newKey?.thumbprint);
    if (third && input.premises) {
      const where = { appId: input.appId, ...(input.certificate ? { certificate: input.certificate } : {}) };
      await refuseThirdServerKey(ports, where, third, input.premises, 'retire keys under it', step.signal);
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

function refuse(code: string, message: string, retryable = false): never {
  throw new AdapterError({ code, message, retryable });
}

/**
 * power-pages: PATCHes the old key credential away, keeping every other credential (the adapter merges by keyId from
 * a read made just before the write and re-reads after it). certrotate cannot see which key the site holds, so it
 * refuses unless the platform's new key is on the app and valid now and the site answers healthy now: the site
 * restarts onto the new key, so a healthy site with the new key registered is the site on the new key (I1, I2).
 *
 * Safe to re-run: it re-reads the app first, and an old key that is gone (this run's earlier PATCH, or a platform
 * that removes the old key itself) is `alreadyGone`, with nothing written.
 */
async function retirePlatformKey(ports: RotationPorts, input: RetireInput, step: StepContext): Promise<RetireResult> {
  const options = { signal: step.signal };
  const before = await ports.apps.getApp(input.appId, options);
  const old = before.keyCredentials.find((c) => c.keyId === input.oldKeyId);
  if (!old) return { keyRemoved: 'alreadyGone', versionDisabled: 'none', diff: diffOf(before, []) };

  const now = ports.clock.now();
  const replacement = before.keyCredentials.find((c) => c.keyId === input.newKeyId);
  if (!input.newKeyId || input.newKeyId === input.oldKeyId || !replacement) {
    refuse(
      'newKeyMissing',
      `the platform's new key ${input.newKeyId ?? '?'} is not on app ${input.appId}: the site may still use the old ` +
        `key ${input.oldThumbprint}, which stays`,
    );
  }
  if (!isCertificateCredential(replacement) || !credentialValidAt(replacement, now)) {
    refuse('newKeyNotValid', `the platform's new key ${replacement.thumbprint} is not valid now; the old key stays`);
  }
  // The site restarts onto the key the platform made last, which outlasts the one it replaced: never remove the
  // longest-lived key, whatever the run recorded.
  if (Date.parse(replacement.endDateTime) <= Date.parse(old.endDateTime)) {
    refuse(
      'wouldRemoveNewestKey',
      `key ${old.thumbprint} outlasts ${replacement.thumbprint}, so it may be the key the site uses; the old key stays`,
    );
  }
  if (!input.site || !ports.sites) refuse('invalidRequest', 'power-pages target without site');
  const healthy = await ports.sites.siteHealthy(input.site.environmentId, input.site.websiteId, options);
  if (!healthy) {
    // Retryable: a site between health checks may come back; the machine parks with this message if it does not.
    refuse(
      'siteUnhealthy',
      `refusing to remove the old key ${input.oldThumbprint} while the site is unhealthy: it may still need it`,
      true,
    );
  }

  await ports.apps.patchKeyCredentials(input.appId, { removeKeyIds: [input.oldKeyId] }, options);
  // Checked after: the old key gone, the new one (and every other) still there.
  const after = await ports.apps.getApp(input.appId, options);
  if (after.keyCredentials.some((c) => c.keyId === input.oldKeyId)) {
    refuse('conflict', `after the PATCH, app ${input.appId} still holds the old key ${input.oldThumbprint}`, true);
  }
  const lost = before.keyCredentials.filter(
    (c) => c.keyId !== input.oldKeyId && !after.keyCredentials.some((a) => a.keyId === c.keyId),
  );
  if (lost.length > 0) {
    refuse(
      'keyLost',
      `after the PATCH, app ${input.appId} lacks key(s) ${lost.map((c) => c.thumbprint).join(', ')} that it should ` +
        'have kept; someone else may be writing its keys',
    );
  }
  return { keyRemoved: 'removed', method: 'patch', versionDisabled: 'none', diff: diffOf(before, [input.oldKeyId]) };
}

function diffOf(app: AppRegistration, removedKeyIds: string[]): { removed: string[]; kept: string[] } {
  const upper = (ids: typeof app.keyCredentials) => ids.map((c) => c.thumbprint.toUpperCase());
  return {
    removed: upper(app.keyCredentials.filter((c) => removedKeyIds.includes(c.keyId))),
    kept: upper(app.keyCredentials.filter((c) => !removedKeyIds.includes(c.keyId))),
  };
}

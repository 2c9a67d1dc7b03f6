import { toPortError, type AppRegistration, type KeyCredential } from '../../adapters/ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import { credentialValidAt } from '../../machines/rotation-policies.js';
import type { WithdrawInput, WithdrawResult } from '../../machines/rotation-types.js';
import { runIdOfCredential, runIdOfVersion } from '../../machines/world-markers.js';
import { disableVersion } from './disable-version.js';
import { readUntilSettled, sameThumbprint } from './step-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * A superseded run takes back what it added itself, and only what is provably unused (I7, I8): its key credential
 * (found by keyId, thumbprint or its `certrotate <runId>` marker) and its Key Vault version (the one it recorded, or
 * the one its `certrotate-run` tag names), but only when the server
 * reports another key. When the server uses this run's key, or a person may have put it on a `manual` server,
 * nothing is withdrawn: the result says so, and the key is left for a person (or `prune`) to judge. Never touches a
 * credential or version of another run.
 *
 * Safe to re-run: it asks the server first, a credential already gone is `alreadyGone` (a read that no longer lists
 * it, or removeKey's notFound), and a disabled version is left as it is.
 */
export async function withdrawAdditions(
  ports: RotationPorts,
  input: WithdrawInput,
  step: StepContext,
): Promise<WithdrawResult> {
  const options = { signal: step.signal };
  // This run's versions: the one it recorded, and any its tag names (a create that finished after the run stopped
  // looking, or before its snapshot recorded it).
  const versions = input.certificate
    ? (await ports.certificates.listVersions(input.certificate, options)).filter(
        (v) => v.version === input.newVersion || runIdOfVersion(v.tags) === input.runId,
      )
    : [];
  const thumbprints = [
    ...new Set([...versions.map((v) => v.thumbprint), ...(input.newKey ? [input.newKey.thumbprint] : [])]),
  ];
  if (thumbprints.length === 0) return { keyRemoved: 'none', versionDisabled: 'none' };

  if (input.serverManual) {
    if (input.mayBeInstalled) return { keyRemoved: 'mayBeInUse', versionDisabled: 'mayBeInUse' };
  } else if (ports.server) {
    const current = await ports.server.currentKey(options);
    if (thumbprints.some((t) => sameThumbprint(current.thumbprint, t))) {
      return { keyRemoved: 'inUse', versionDisabled: 'inUse' };
    }
  }

  // A restored run may be repeating a removal (or an attach) whose result it never saw: then read past the lag.
  const ours = (c: KeyCredential) =>
    (input.newKeyId !== undefined && c.keyId === input.newKeyId) ||
    thumbprints.some((t) => sameThumbprint(c.thumbprint, t)) ||
    runIdOfCredential(c.displayName) === input.runId;
  const found = await readUntilSettled(
    ports,
    input.appId,
    (app) => {
      const mine = app.keyCredentials.filter(ours);
      return mine.length > 0 ? { app, mine } : undefined;
    },
    step,
  );
  let keyRemoved: WithdrawResult['keyRemoved'] = input.newKey ? 'alreadyGone' : 'none';
  for (const credential of found?.mine ?? []) {
    await removeCredential(ports, input, found!.app, credential.keyId, options);
    keyRemoved = 'removed';
  }

  let versionDisabled: WithdrawResult['versionDisabled'] = 'none';
  for (const version of versions) {
    const result = await disableVersion(ports, input.certificate!, version.version, step);
    versionDisabled = versionDisabled === 'disabled' ? 'disabled' : result;
  }
  return { keyRemoved, versionDisabled };
}

/** removeKey with the old key's proof while it is a valid credential of the app, else PATCH; gone is success. */
async function removeCredential(
  ports: RotationPorts,
  input: WithdrawInput,
  app: AppRegistration,
  keyId: string,
  options: { signal: AbortSignal },
): Promise<void> {
  const old = input.oldKey;
  const oldCredential = old && app.keyCredentials.find((c) => sameThumbprint(c.thumbprint, old.thumbprint));
  const oldCanSign =
    old !== undefined &&
    old.secretId !== '' &&
    oldCredential !== undefined &&
    credentialValidAt(oldCredential, ports.clock.now());
  try {
    if (oldCanSign) await ports.apps.removeKey(input.appId, keyId, old, options);
    else await ports.apps.patchKeyCredentials(input.appId, { removeKeyIds: [keyId] }, options);
  } catch (thrown) {
    const code = toPortError(thrown).code;
    if (code === 'notFound') return;
    if (!(oldCanSign && (code === 'invalidProof' || code === 'keyExpired'))) throw thrown;
    await ports.apps.patchKeyCredentials(input.appId, { removeKeyIds: [keyId] }, options);
  }
}

import {
  AdapterError,
  toPortError,
  type AppRegistration,
  type CertificateVersion,
  type CreateOperationState,
  type KeyCredential,
} from '../../adapters/ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import { credentialValidAt } from '../../machines/rotation-policies.js';
import type { WithdrawInput, WithdrawResult } from '../../machines/rotation-types.js';
import { runIdOfCredential, runIdOfVersion } from '../../machines/world-markers.js';
import { disableVersion } from './disable-version.js';
import { readUntilSettled, sameThumbprint, timingOf } from './step-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * A superseded run takes back what it added itself, and only what is provably unused (I7, I8): its key credential
 * (found by keyId, thumbprint or its `certrotate <runId>` marker) and its Key Vault version (the one it recorded, or
 * the one its `certrotate-run` tag names), but only when the server
 * reports another key. When the server uses this run's key, or a person may have put it on a `manual` server,
 * nothing is withdrawn: the result says so, and the key is left for a person (or `prune`) to judge. Never touches a
 * credential or version of another run.
 *
 * A create of this run's still pending (the run was superseded while Key Vault issued its key) is waited for first:
 * the version it makes later is this run's, enabled, and would otherwise be left for nobody to retire (I8). Waiting is
 * bounded like the create itself; a create still pending then fails the step (retryable), never leaves it unseen.
 *
 * Safe to re-run: it asks the server first, a credential already gone is `alreadyGone` (a read that no longer lists
 * it, or removeKey's notFound), a disabled version is left as it is, and polling a create only reads.
 */
export async function withdrawAdditions(
  ports: RotationPorts,
  input: WithdrawInput,
  step: StepContext,
): Promise<WithdrawResult> {
  const options = { signal: step.signal };
  const created = input.certificate ? await settleOwnCreate(ports, input, input.certificate, step) : undefined;
  // This run's versions: the one it recorded, the one its pending create just made, and any its tag names (a create
  // that finished after the run stopped looking, or before its snapshot recorded it).
  const versions = input.certificate
    ? (await ports.certificates.listVersions(input.certificate, options)).filter(
        (v) =>
          v.version === input.newVersion || v.version === created?.version || runIdOfVersion(v.tags) === input.runId,
      )
    : [];
  if (created && !versions.some((v) => v.version === created.version)) versions.push(created);
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

/**
 * Waits for this run's own pending create, if any: the operation the run recorded, else a pending create on the
 * certificate whose tag names this run (a process that died before its snapshot recorded the operation). Returns the
 * version it made when that version's tag names this run; undefined when nothing is pending, the create failed, or it
 * made a version of another run or of nobody's (never ours to withdraw).
 */
async function settleOwnCreate(
  ports: RotationPorts,
  input: WithdrawInput,
  certificate: string,
  step: StepContext,
): Promise<CertificateVersion | undefined> {
  const options = { signal: step.signal };
  let operation: CreateOperationState | undefined = input.operation;
  if (!operation) {
    const pending = await ports.certificates.getPendingCreate(certificate, options);
    if (pending?.runId === input.runId) operation = pending.operation;
  }
  if (!operation) return undefined;
  const timing = timingOf(ports);
  const deadline = ports.clock.now() + timing.createTimeoutMs;
  for (;;) {
    const status = await ports.certificates.pollCreate(operation, options);
    // Only a version whose tag names this run is provably ours: certrotate always tags its creates, so an untagged
    // version came from someone else's create that this run adopted while pending, and is not ours to disable.
    if (status.status === 'completed')
      return runIdOfVersion(status.version.tags) === input.runId ? status.version : undefined;
    if (status.status === 'failed') return undefined;
    if (ports.clock.now() >= deadline) {
      throw new AdapterError({
        code: 'timeout',
        message:
          `this run's create of Key Vault certificate ${certificate} is still pending after ` +
          `${timing.createTimeoutMs} ms; its version must be disabled once it appears`,
        retryable: true,
      });
    }
    await ports.clock.sleep(timing.createPollMs, step.signal);
  }
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

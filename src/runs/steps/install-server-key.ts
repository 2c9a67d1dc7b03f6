import { toPortError } from '../../adapters/ports.js';
import type { InstallInput, InstallResult } from '../../machines/rotation-types.js';
import { lookUpAdder, refuseThirdServerKey, superseded, thirdServerKey } from './premises.js';
import { requireServer, sameThumbprint } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Puts the new key in service on the server. Safe to re-run: it asks the server which key it uses first and does
 * nothing when that is already the new one; `install` itself is idempotent. A `manual` server is left to a person:
 * the machine parks, and the operator's resume counts as their word that the key is installed.
 *
 * The install carries the fencing token (the key's `notBefore` and the run id), so a server holding a newer key
 * refuses it (`serverHasNewerKey`). Premise (I7): the key the server reports must be the run's old key (or its new
 * one); a third key, or the server's refusal, means another rotation got there first: the step fails `superseded`
 * and never moves the server backwards. The check reads only, so re-running it is safe.
 */
export async function installServerKey(
  ports: RotationPorts,
  input: InstallInput,
  step: StepContext,
): Promise<InstallResult> {
  const server = requireServer(ports);
  if (server.manual) return { status: input.operatorConfirmed ? 'operatorConfirmed' : 'manual' };
  const where = { appId: input.appId, ...(input.certificate ? { certificate: input.certificate } : {}) };
  const current = await server.currentKey({ signal: step.signal });
  if (sameThumbprint(current.thumbprint, input.newKey.thumbprint)) return { status: 'alreadyInstalled' };
  const third = input.premises && thirdServerKey(current.thumbprint, input.premises, input.newKey.thumbprint);
  if (third && input.premises) {
    await refuseThirdServerKey(ports, where, third, input.premises, 'install an older key over it', step.signal);
  }
  try {
    await server.install(input.newKey, { signal: step.signal, runId: input.runId });
  } catch (thrown) {
    const error = toPortError(thrown);
    if (error.code !== 'serverHasNewerKey') throw thrown;
    // The server holds a newer key than this run's: read which, to name who put it there.
    const now = await server.currentKey({ signal: step.signal }).catch(() => ({ thumbprint: undefined }));
    const who = now.thumbprint
      ? ` (key ${now.thumbprint}, put there by ${await lookUpAdder(ports, where, now.thumbprint, step.signal)})`
      : '';
    superseded(`${error.message}${who}`);
  }
  return { status: 'installed' };
}

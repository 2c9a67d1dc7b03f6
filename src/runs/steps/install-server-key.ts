import type { InstallInput, InstallResult } from '../../machines/rotation-types.js';
import { requireServer, sameThumbprint } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Puts the new key in service on the server. Safe to re-run: it asks the server which key it uses first and does
 * nothing when that is already the new one; `install` itself is idempotent. A `manual` server is left to a person:
 * the machine parks, and the operator's resume counts as their word that the key is installed.
 */
export async function installServerKey(
  ports: RotationPorts,
  input: InstallInput,
  step: StepContext,
): Promise<InstallResult> {
  const server = requireServer(ports);
  if (server.manual) return { status: input.operatorConfirmed ? 'operatorConfirmed' : 'manual' };
  const current = await server.currentKey({ signal: step.signal });
  if (sameThumbprint(current.thumbprint, input.newKey.thumbprint)) return { status: 'alreadyInstalled' };
  await server.install(input.newKey, { signal: step.signal });
  return { status: 'installed' };
}

import type { PropagationInput, PropagationResult } from '../../machines/rotation-types.js';
import { dataverseScope, ENTRA, reaching } from './verify-new-key.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Asks Entra for a token with the new key, to learn whether it has propagated (AADSTS700027 `keyNotFound` until it
 * has; the machine retries until verifyTimeout). Entra not answering is named as such ({@link reaching}): past
 * verifyTimeout the run parks instead of rolling back. Read-only, so re-running it is always safe; the token is
 * dropped here (I4).
 */
export async function awaitPropagation(
  ports: RotationPorts,
  input: PropagationInput,
  step: StepContext,
): Promise<PropagationResult> {
  const scope = input.dataverseUrl ? dataverseScope(input.dataverseUrl) : 'https://graph.microsoft.com/.default';
  const token = await reaching(ENTRA, () =>
    ports.tokens.acquireToken(input.appId, input.newKey, scope, { signal: step.signal }),
  );
  return { tokenExpiresOn: token.expiresOn };
}

import { AdapterError, toPortError } from '../../adapters/ports.js';
import { isServiceOutage } from '../../machines/rotation-backoff.js';
import type { VerifyInput, VerifyResult } from '../../machines/rotation-types.js';
import { requireServer, sameThumbprint, timingOf } from './step-ports.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/** How an outage names Entra's token endpoint. */
export const ENTRA = 'Entra ID (token endpoint)';
const SERVER = 'the app server';

/** The Dataverse scope for an environment URL: `https://org.crm.dynamics.com/.default`. */
export function dataverseScope(dataverseUrl: string): string {
  return `${new URL(dataverseUrl).origin}/.default`;
}

/**
 * One call to a service verification depends on. An outage (5xx or a dropped connection, no answer in time,
 * throttled: still retryable, same code) is rethrown naming `service` first, so the park it may end in after
 * `verifyTimeout` says which service was unreachable; an answer (a rejection, any other error) passes unchanged.
 */
export async function reaching<T>(service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const error = toPortError(err);
    if (!isServiceOutage(error)) throw err;
    throw new AdapterError({ ...error, message: `${service} unreachable: ${error.message}` });
  }
}

/**
 * Proves the new key works. Read-only, so re-running it is always safe.
 *
 * keyvault: a token with the new key (AADSTS700027 while Entra propagates it is a retryable `keyNotFound`; the
 * machine retries until verifyTimeout), then Dataverse WhoAmI with that token, then the server: it must report the
 * new key and, where it can tell, be healthy. The token never leaves this function (I4). A service that does not
 * answer is named in the error ({@link reaching}): past verifyTimeout that parks the run; only a rejection rolls back.
 * power-pages: the site answers healthy on the platform's new key, several times in a row.
 */
export async function verifyNewKey(ports: RotationPorts, input: VerifyInput, step: StepContext): Promise<VerifyResult> {
  const options = { signal: step.signal };
  if (input.kind === 'power-pages') return verifySiteHealthy(ports, input, step);

  const scope = input.dataverseUrl ? dataverseScope(input.dataverseUrl) : 'https://graph.microsoft.com/.default';
  const token = await reaching(ENTRA, () => ports.tokens.acquireToken(input.appId, input.newKey, scope, options));
  const result: VerifyResult = { tokenExpiresOn: token.expiresOn };
  if (input.dataverseUrl) {
    const dataverseUrl = input.dataverseUrl;
    const who = await reaching(`Dataverse (${new URL(dataverseUrl).origin})`, () =>
      ports.dataverse.whoAmI(dataverseUrl, token, options),
    );
    result.userId = who.userId;
  }
  const server = requireServer(ports);
  if (!server.manual) {
    const current = await reaching(SERVER, () => server.currentKey(options));
    if (current.thumbprint !== undefined && !sameThumbprint(current.thumbprint, input.newKey.thumbprint)) {
      throw new AdapterError({
        code: 'serverKeyMismatch',
        message: `the server reports key ${current.thumbprint}, not the new key ${input.newKey.thumbprint}`,
        retryable: true,
      });
    }
  }
  if (server.checkHealth) {
    const check = server.checkHealth.bind(server);
    const health = await reaching(SERVER, () => check(options));
    if (!health.healthy) {
      throw new AdapterError({
        code: 'serverUnhealthy',
        message: `the server is not healthy on the new key${health.detail ? `: ${health.detail}` : ''}`,
        retryable: true,
      });
    }
  }
  return result;
}

/**
 * power-pages: the site must answer healthy `siteHealthyChecks` times in a row, `siteCheckMs` apart. One healthy answer
 * can come from the old process in the middle of the restart; several in a row mean the restarted site serves on the
 * new key. Any unhealthy answer is a retryable `siteUnhealthy` (the machine retries until its deadline, then parks).
 */
async function verifySiteHealthy(ports: RotationPorts, input: VerifyInput, step: StepContext): Promise<VerifyResult> {
  if (!input.site || !ports.sites) {
    throw new AdapterError({ code: 'invalidRequest', message: 'power-pages target without site', retryable: false });
  }
  const timing = timingOf(ports);
  const { environmentId, websiteId } = input.site;
  for (let check = 1; check <= timing.siteHealthyChecks; check++) {
    if (check === 2) {
      // Said once per attempt, before the first pause: otherwise the checks are seconds with no word on screen.
      const more = timing.siteHealthyChecks - 1;
      step.onWaiting?.({
        for:
          `${more} more healthy answer${more === 1 ? '' : 's'} from the site, ${Math.round(timing.siteCheckMs / 1000)} s ` +
          'apart (one can come from the old process mid-restart)',
        until: ports.clock.now() + more * timing.siteCheckMs,
      });
    }
    if (check > 1) await ports.clock.sleep(timing.siteCheckMs, step.signal);
    const healthy = await ports.sites.siteHealthy(environmentId, websiteId, { signal: step.signal });
    if (!healthy) {
      const site = await ports.sites.getSite(environmentId, websiteId, { signal: step.signal });
      throw new AdapterError({
        code: 'siteUnhealthy',
        message:
          `the site ${site.name || websiteId} is not healthy (status ${site.status}` +
          `${check > 1 ? `, after ${check - 1} healthy answer(s)` : ''})`,
        retryable: true,
      });
    }
  }
  return { siteHealthy: true, siteChecks: timing.siteHealthyChecks };
}

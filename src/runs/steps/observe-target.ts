import type { ObserveInput, TargetObservation } from '../../machines/rotation-types.js';
import type { RotationPorts } from '../../adapters/rotation-ports.js';
import type { StepContext } from './step-ports.js';

/**
 * Preflight: reads the app, the certificate's versions, a pending create, the server's key and, for power-pages, the
 * site (from the Power Platform API, else the configuration) and whether certrotate may PATCH the app. Read-only, so
 * re-running it is always safe (and its answer is what plan fingerprints).
 */
export async function observeTarget(
  ports: RotationPorts,
  input: ObserveInput,
  step: StepContext,
): Promise<TargetObservation> {
  const options = { signal: step.signal };
  const app = await ports.apps.getApp(input.appId, options);
  const versions = input.certificate ? await ports.certificates.listVersions(input.certificate, options) : [];
  const pending = input.certificate ? await ports.certificates.getPendingCreate(input.certificate, options) : undefined;
  let server: TargetObservation['server'] = { manual: false };
  if (input.kind === 'keyvault' && ports.server) {
    server = ports.server.manual ? { manual: true } : { manual: false, ...(await ports.server.currentKey(options)) };
  }
  let site: TargetObservation['site'];
  if (input.site && ports.sites) {
    const info = await ports.sites.getSite(input.site.environmentId, input.site.websiteId, options);
    const healthy = await ports.sites.siteHealthy(input.site.environmentId, input.site.websiteId, options);
    site = {
      status: info.status,
      healthy,
      ...(info.name ? { name: info.name } : {}),
      ...(info.environmentName ? { environmentName: info.environmentName } : {}),
      ...(info.url ? { url: info.url } : {}),
      ...(info.source ? { source: info.source } : {}),
    };
  }
  // A site on the platform-managed identity has nothing to retire, so who may write the app does not matter then.
  const ownership =
    input.kind === 'power-pages' && ports.ownership && !app.hasFederatedCredentials
      ? await ports.ownership.callerAccess(input.appId, options)
      : undefined;
  return {
    now: ports.clock.now(),
    app,
    versions,
    ...(pending ? { pending } : {}),
    server,
    ...(site ? { site } : {}),
    ...(ownership ? { ownership } : {}),
  };
}

/**
 * A power-pages target: its "Portals - …" app with a platform key (or, for a site on the platform-managed
 * identity, a federated credential and no key), and the site itself, listed by the Power Platform websites API.
 */
import { randomUUID } from 'node:crypto';
import { isoTime } from '../clock.js';
import { genericFault } from '../hosts.js';
import type { WebsiteDto } from '../power-platform.js';
import { certificateExpiringIn, registerCurrentKey, type PowerPagesTargetSeed } from '../world.js';
import { ownedApp, type Seeder } from './context.js';

export const powerPagesTargetSeeder: Seeder<PowerPagesTargetSeed> = {
  async seed(ctx, seed) {
    const { directory, history, environmentId, now } = ctx;
    const app = ownedApp(ctx, `Portals - ${seed.siteName}`);
    let thumbprint: string | null = null;
    let keyId: string | null = null;
    if (seed.daysLeft === null) {
      directory.setKeyCredentials(app, []);
      directory.addFederatedCredential(app, {
        name: 'PowerPagesManagedIdentity',
        issuer: `${ctx.entraUrl}/${directory.tenantId}/v2.0`,
        subject: `/eid1/c/pub/t/${directory.tenantId}/a/${app.appId}/powerpages/${seed.siteName}`,
        audiences: ['api://AzureADTokenExchange'],
        description: 'Power Pages platform-managed identity',
      });
    } else {
      const material = await certificateExpiringIn(ctx.pool, now, `CN=Portals - ${seed.siteName}`, seed.daysLeft, 730);
      const credential = registerCurrentKey(directory, app, material);
      thumbprint = credential.thumbprint;
      keyId = credential.keyId;
    }
    const websiteId = randomUUID();
    const siteHost = ctx.hosts.add('site', seed.name, genericFault);
    const dto: WebsiteDto = {
      id: websiteId,
      name: seed.siteName,
      createdOn: isoTime(now - 400 * 86_400_000),
      templateName: 'DefaultPortalTemplate',
      websiteUrl: '',
      tenantId: directory.tenantId,
      dataverseInstanceUrl: ctx.dataverseUrl,
      environmentName: 'contoso-prod',
      environmentId,
      dataverseOrganizationId: ctx.org.organizationId,
      selectedBaseLanguage: 1033,
      customHostNames: [],
      websiteRecordId: randomUUID(),
      subdomain: seed.siteName,
      packageInstallStatus: 'Installed',
      type: 'Production',
      trialExpiringInDays: null,
      suspendedWebsiteDeletingInDays: null,
      packageVersion: seed.daysLeft === null ? '9.6.9.50' : '9.5.2307.10',
      isEarlyUpgradeEnabled: false,
      isCustomErrorEnabled: false,
      applicationUserAadAppId: app.appId,
      ownerId: ctx.operator.servicePrincipalId,
      status: 'Running',
      siteVisibility: 'Public',
    };
    const site = {
      websiteId,
      target: seed.name,
      environmentId,
      app,
      federated: seed.daysLeft === null,
      status: 'running' as const,
      thumbprint,
      keyId,
      url: '',
      dto,
    };
    ctx.sites.register(siteHost.app, site);
    site.url = await siteHost.listen();
    dto.websiteUrl = site.url;
    ctx.sites.add(site);
    if (thumbprint) history.record({ kind: 'siteKey', websiteId, thumbprint });
    return {
      target: {
        name: seed.name,
        kind: 'power-pages',
        appId: app.appId,
        objectId: app.id,
        websiteId,
        environmentId,
        siteUrl: site.url,
      },
      config: {
        name: seed.name,
        kind: 'power-pages',
        environmentId,
        websiteId,
        app: { appId: app.appId },
        siteUrl: site.url,
      },
    };
  },
};

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { classifyApps, countApps } from '../../../src/fleet/classify.js';
import type { DiscoveryReport } from '../../../src/fleet/discovery.js';
import { authForInit, initConfigText, targetNameFor } from '../../../src/fleet/init-config.js';
import { app, cert, DAY, NOW, secret } from './fakes.js';

const cloud = {
  authorityHost: 'https://login.microsoftonline.com',
  graphUrl: 'https://graph.microsoft.com',
  powerPlatformUrl: 'https://api.powerplatform.com',
};
const tenantId = '11111111-2222-4333-8444-555555555555';

function report(): DiscoveryReport {
  const site = app('Portals - shop', { keyCredentials: [cert('AA', 100)] });
  const api = app('Contoso API (prod)', { keyCredentials: [cert('BB', 100)] });
  const plain = app('legacy', { passwordCredentials: [secret(10)] });
  const apps = classifyApps([site, api, plain], {
    now: NOW,
    rotateBeforeMs: 60 * DAY,
    servicePrincipals: [],
    sites: [
      {
        websiteId: '22222222-2222-4333-8444-555555555555',
        name: 'shop',
        environmentId: '33333333-2222-4333-8444-555555555555',
        appId: site.appId,
        siteUrl: 'https://shop.powerappsportals.com',
      },
    ],
    vaultVersions: [
      { vaultUrl: 'https://kv.vault.azure.net', certificate: 'api-s2s', version: 'v1', thumbprint: 'BB' },
    ],
  });
  return { formatVersion: 1, apps, counts: countApps(apps), notes: [] };
}

describe('initConfigText', () => {
  it('writes a config the real parser accepts: a keyvault target with a manual server, a complete power-pages target', () => {
    const text = initConfigText({
      report: report(),
      tenantId,
      cloud,
      auth: { kind: 'client-secret', clientId: tenantId, clientSecretEnv: 'CERTROTATE_CLIENT_SECRET' },
      dataverseUrl: 'https://contoso.crm.dynamics.com',
      generatedAt: '2026-06-01T00:00:00.000Z',
    });
    const config = parseConfig(text, 'init.yaml', '/tmp');
    expect(config.targets.map((t) => [t.name, t.kind])).toEqual([
      ['shop', 'power-pages'],
      ['Contoso-API-prod', 'keyvault'],
    ]);
    const kv = config.targets[1];
    expect(kv?.kind === 'keyvault' && kv.server).toEqual({ kind: 'manual' });
    expect(kv?.kind === 'keyvault' && kv.keyVault.certificate).toBe('api-s2s');
    expect(text).toMatch(/# TODO: pick the server kind/);
    expect(text).toMatch(/# Not written: 1 app\(s\)/);
  });

  it('refuses keyvault targets without a Dataverse URL, naming the option', () => {
    expect(() =>
      initConfigText({ report: report(), tenantId, cloud, auth: { kind: 'default' }, generatedAt: 'now' }),
    ).toThrow(/--dataverse-url/);
  });

  it('never writes a client secret: it moves to an environment variable', () => {
    expect(authForInit({ kind: 'client-secret', clientId: tenantId, clientSecret: 'hunter2' })).toEqual({
      kind: 'client-secret',
      clientId: tenantId,
      clientSecretEnv: 'CERTROTATE_CLIENT_SECRET',
    });
  });

  it('makes unique, valid target names', () => {
    const taken = new Set<string>();
    expect([targetNameFor('a b', taken), targetNameFor('a b', taken), targetNameFor('***', taken)]).toEqual([
      'a-b',
      'a-b-2',
      'target',
    ]);
  });
});

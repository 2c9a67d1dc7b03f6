/**
 * The sandbox's seeded tenant for `discover` (sandbox option `tenantApps`) read over raw HTTPS: service principals
 * with credentials of their own (resources/serviceprincipal.md: `keyCredentials`, `passwordCredentials` without
 * `secretText`), `$expand=owners` on the applications list, the Power Platform environments list, and a Key Vault
 * operation withheld from the operator answered 403 `Forbidden` as the service does for a principal lacking the
 * role (reference/keyvault.md §3.7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { FLEET_VAULT } from '../../../src/sandbox/seeding/tenant-apps.js';
import { getState } from '../../helpers/sandbox.js';
import { graph, https, secretToken } from './wire.js';

let sb: Sandbox;
let token: string;

beforeAll(async () => {
  sb = await startSandbox({
    propagationDelaySeconds: 0,
    keyPoolSize: 2,
    tenantApps: 25,
    vaultDenials: [{ vault: FLEET_VAULT, operations: ['secrets/get'] }],
  });
  token = await secretToken(sb, sb.operator.clientId, sb.operator.clientSecret, 'https://graph.microsoft.com/.default');
}, 60_000);
afterAll(() => sb?.stop());

describe('seeded tenant', () => {
  it("lists a service principal's own credentials, never a secret's text", async () => {
    const app = sb.directory.apps().find((a) => a.displayName === 'fleet-0025')!;
    const res = await graph(
      sb,
      token,
      'GET',
      `/v1.0/servicePrincipals(appId='${app.appId}')?$select=keyCredentials,passwordCredentials`,
    );
    expect(res.status).toBe(200);
    const keys = res.body!.keyCredentials as Record<string, unknown>[];
    const secrets = res.body!.passwordCredentials as Record<string, unknown>[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ type: 'AsymmetricX509Cert', usage: 'Verify', key: null });
    expect(secrets).toHaveLength(1);
    expect(secrets[0]!.secretText).toBeNull();
    const plain = await graph(sb, token, 'GET', `/v1.0/servicePrincipals(appId='${sb.operator.clientId}')`);
    expect(plain.body!.keyCredentials).toEqual([]);
  });

  it('expands owners on the applications list', async () => {
    const res = await graph(
      sb,
      token,
      'GET',
      `/v1.0/applications?$filter=displayName eq 'fleet-0002'&$select=id,displayName&$expand=owners`,
    );
    expect(res.status).toBe(200);
    const [app] = res.body!.value as { owners: Record<string, unknown>[] }[];
    expect(app!.owners).toEqual([
      expect.objectContaining({ '@odata.type': '#microsoft.graph.servicePrincipal', displayName: 'fleet-owner' }),
    ]);
  });

  it("lists the environment, whose websites include the fleet's site", async () => {
    const pp = await secretToken(
      sb,
      sb.operator.clientId,
      sb.operator.clientSecret,
      'https://api.powerplatform.com/.default',
    );
    const headers = { authorization: `Bearer ${pp}` };
    const envs = await https(sb, 'GET', `${sb.urls.powerPlatform}/environmentmanagement/environments`, { headers });
    expect(envs.status).toBe(200);
    const [env] = envs.body!.value as { id: string; dataverseOrganizationUrl: string }[];
    expect(env!.dataverseOrganizationUrl).toBe(sb.urls.dataverse);
    const sites = await https(sb, 'GET', `${sb.urls.powerPlatform}/powerpages/environments/${env!.id}/websites`, {
      headers,
    });
    expect((sites.body!.value as { name: string }[]).map((s) => s.name)).toContain('fleet-site');
  });

  it('answers 403 Forbidden for a withheld vault operation, and still allows the others', async () => {
    const vault = (await getState(sb)).vaults.find((v) => v.certificates.some((c) => c.name === 'fleet-0001-s2s'))!;
    const kv = await secretToken(
      sb,
      sb.operator.clientId,
      sb.operator.clientSecret,
      'https://vault.azure.net/.default',
    );
    const headers = { authorization: `Bearer ${kv}` };
    const secret = await https(sb, 'GET', `${vault.url}/secrets/fleet-0001-s2s?api-version=7.5`, { headers });
    expect(secret.status).toBe(403);
    expect(secret.body).toEqual({
      error: {
        code: 'Forbidden',
        message: expect.stringMatching(/does not have secrets get permission on key vault 'kv-fleet'/),
        innererror: { code: 'AccessDenied' },
      },
    });
    const cert = await https(sb, 'GET', `${vault.url}/certificates/fleet-0001-s2s?api-version=7.5`, { headers });
    expect(cert.status).toBe(200);
  });
});

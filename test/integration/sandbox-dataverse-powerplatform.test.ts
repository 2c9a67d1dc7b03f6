/**
 * Dataverse WhoAmI and the Power Platform websites API against tokens from the sandbox's Entra (real identity SDK).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { certificateCredential, secretCredential, trustSandboxCa } from './sandbox-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0 });
  trustSandboxCa(sb.caPem);
});
afterAll(() => sb?.stop());

async function whoAmI(token: string | undefined) {
  const res = await fetch(`${sb.urls.dataverse}/api/data/v9.2/WhoAmI`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('Dataverse WhoAmI', () => {
  it("maps the app's token for the org audience to its application user", async () => {
    const server = sb.servers.find((s) => s.name === 'contoso-api')!;
    const token = await certificateCredential(sb, server.appId, server.current().pemBundle).getToken(
      `${sb.urls.dataverse}/.default`,
    );
    const res = await whoAmI(token.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      UserId: expect.any(String),
      BusinessUnitId: expect.any(String),
      OrganizationId: expect.any(String),
    });
    expect(res.body['@odata.context']).toContain('WhoAmIResponse');
  });

  it('refuses a token for another audience with 401 and a Bearer challenge', async () => {
    const server = sb.servers.find((s) => s.name === 'contoso-api')!;
    const graphToken = await certificateCredential(sb, server.appId, server.current().pemBundle).getToken(
      'https://graph.microsoft.com/.default',
    );
    const res = await whoAmI(graphToken.token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      `authorization_uri=${sb.urls.entra}/${sb.tenantId}/oauth2/authorize`,
    );
    expect((await whoAmI(undefined)).status).toBe(401);
  });

  it('answers an app with no application user with 403 "not a member of the organization"', async () => {
    const token = await secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret).getToken(
      `${sb.urls.dataverse}/.default`,
    );
    const res = await whoAmI(token.token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: { code: '0x80072560', message: 'The user is not a member of the organization.' },
    });
  });
});

describe('Power Platform websites', () => {
  const portal = () => sb.targets.find((t) => t.name === 'contoso-portal')!;

  it('lists and gets the environment’s sites for the operator with the WebsiteDto fields', async () => {
    const token = (
      await secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret).getToken(
        'https://api.powerplatform.com/.default',
      )
    ).token;
    const headers = { authorization: `Bearer ${token}` };
    const list = (await (
      await fetch(
        `${sb.urls.powerPlatform}/powerpages/environments/${portal().environmentId}/websites?api-version=2024-10-01`,
        { headers },
      )
    ).json()) as { value: Record<string, unknown>[] };
    expect(list.value.map((w) => w.name).sort()).toEqual(['contoso-portal', 'northwind-portal']);
    const res = await fetch(
      `${sb.urls.powerPlatform}/powerpages/environments/${portal().environmentId}/websites/${portal().websiteId}?api-version=2024-10-01`,
      {
        headers,
      },
    );
    expect(res.status).toBe(200);
    const site = (await res.json()) as Record<string, unknown>;
    expect(site).toMatchObject({
      id: portal().websiteId,
      applicationUserAadAppId: portal().appId,
      status: 'Running',
      websiteUrl: portal().siteUrl,
      type: 'Production',
      siteVisibility: 'Public',
      customHostNames: [],
    });
    for (const f of ['packageVersion', 'websiteRecordId', 'dataverseInstanceUrl', 'environmentId', 'tenantId'])
      expect(site[f]).toBeTruthy();
    expect(site).not.toHaveProperty('thumbprint');
  });

  it('refuses callers that are not Power Platform readers, and unknown sites', async () => {
    const server = sb.servers[0]!;
    const token = (
      await certificateCredential(sb, server.appId, server.current().pemBundle).getToken(
        'https://api.powerplatform.com/.default',
      )
    ).token;
    const url = `${sb.urls.powerPlatform}/powerpages/environments/${portal().environmentId}/websites`;
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await fetch(url)).status).toBe(401);
    const op = (
      await secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret).getToken(
        `${sb.urls.powerPlatform}/.default`,
      )
    ).token;
    expect((await fetch(`${url}/${crypto.randomUUID()}`, { headers: { authorization: `Bearer ${op}` } })).status).toBe(
      404,
    );
  });
});

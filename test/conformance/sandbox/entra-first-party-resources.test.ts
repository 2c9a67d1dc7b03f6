/**
 * Entra v2.0 client-credentials tokens for Microsoft's first-party resources. Every tenant holds their service
 * principals, so Azure issues an app-only token for `{resource}/.default` to any app of the tenant, whatever the
 * app may then do there. Sources: v2-oauth2-client-creds-grant-flow.md (`scope={resource}/.default`; a resource
 * URI ending in `/` gives `…//.default`), the Azure SDK credential docs naming these scopes
 * (`https://management.azure.com/.default`, `https://storage.azure.com/.default`, `https://vault.azure.net/.default`,
 * `https://{org}.crm.dynamics.com/.default`, `https://api.powerplatform.com/.default`).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { jwtPayload, postTokenForm } from './wire.js';

let sb: Sandbox;
let client: { id: string; secret: string };

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0 });
  // A plain app with no role anywhere: a token is still issued; authorisation is the resource's business.
  const app = sb.directory.createApp({ displayName: `conformance-${randomUUID().slice(0, 8)}` });
  client = { id: app.appId, secret: sb.directory.addPassword(app, 'conformance') };
});
afterAll(() => sb?.stop());

const tokenFor = (scope: string) =>
  postTokenForm(sb, { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret, scope });

describe('first-party resources', () => {
  it.each([
    ['Azure Resource Manager (classic URI, trailing slash)', 'https://management.core.windows.net//.default'],
    ['Azure Resource Manager', 'https://management.azure.com//.default'],
    ['Azure Resource Manager (no trailing slash)', 'https://management.azure.com/.default'],
    ['Azure Storage', 'https://storage.azure.com/.default'],
    ['Key Vault', 'https://vault.azure.net/.default'],
    ['Microsoft Graph', 'https://graph.microsoft.com/.default'],
    ['Microsoft Graph by app id', '00000003-0000-0000-c000-000000000000/.default'],
    ['Dataverse environment URL', 'https://contoso.crm.dynamics.com/.default'],
    ['Dataverse environment URL in another region', 'https://fabrikam.crm4.dynamics.com/.default'],
    ['Power Platform API', 'https://api.powerplatform.com/.default'],
  ])('issues a client-credentials token for %s (%s)', async (_name, scope) => {
    const res = await tokenFor(scope);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer' });
    const claims = jwtPayload(res.body!.access_token as string);
    // The audience is the resource as requested (minus `/.default`); Azure's v1 tokens for ARM carry it so too.
    expect(claims).toMatchObject({ aud: scope.slice(0, -'/.default'.length), appid: client.id, tid: sb.tenantId });
  });

  // Storage takes v1.0 tokens: Entra issues them from sts.windows.net (Azurite's OAuth check insists on it).
  it('issues Storage a v1.0 token (issuer https://sts.windows.net/{tenant}/), Graph a v2.0 one', async () => {
    const storage = jwtPayload((await tokenFor('https://storage.azure.com/.default')).body!.access_token as string);
    expect(storage).toMatchObject({ iss: `https://sts.windows.net/${sb.tenantId}/`, ver: '1.0' });
    const graph = jwtPayload((await tokenFor('https://graph.microsoft.com/.default')).body!.access_token as string);
    expect(graph).toMatchObject({ ver: '2.0' });
    expect(graph.iss).toMatch(/\/v2\.0$/);
  });

  // Azure: a resource that no service principal of the tenant holds is AADSTS500011 invalid_resource.
  it('still refuses a resource the tenant does not have with AADSTS500011', async () => {
    const res = await tokenFor('https://contoso.example/.default');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_resource', error_codes: [500011] });
  });
});

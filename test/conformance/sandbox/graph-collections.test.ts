/**
 * Graph v1.0 collections read over raw HTTPS: server-side paging and `$filter` on `applications`, and the
 * `servicePrincipals` collection. Sources: Graph "Paging Microsoft Graph data in your app" (paging.md: default page,
 * `$top`, `@odata.nextLink` with a `$skiptoken` and the request's other options), "Use the $filter query parameter"
 * (filter-query-parameter.md) and the application / servicePrincipal resource pages listing the operators each
 * property supports, Graph's errors doc for the error body.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Application } from '../../../src/sandbox/directory.js';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { graph, graphError, secretToken } from './wire.js';

let sb: Sandbox;
let token: string;
const prefix = `conf-${randomUUID().slice(0, 6)}`;
let made: Application[];

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0 });
  token = await secretToken(sb, sb.operator.clientId, sb.operator.clientSecret, 'https://graph.microsoft.com/.default');
  // Enough apps that a tenant's list spans pages (the seeded world has fewer than 100).
  made = Array.from({ length: 230 }, (_, i) =>
    sb.directory.createApp({ displayName: `${prefix}-${String(i).padStart(3, '0')}` }),
  );
});
afterAll(() => sb?.stop());

type Page = { value: Record<string, unknown>[]; '@odata.nextLink'?: string; '@odata.context': string };

async function allPages(first: string): Promise<{ pages: Page[]; items: Record<string, unknown>[] }> {
  const pages: Page[] = [];
  let next: string | undefined = first;
  while (next) {
    const res = await graph(sb, token, 'GET', next);
    expect(res.status).toBe(200);
    const page = res.body as unknown as Page;
    pages.push(page);
    next = page['@odata.nextLink'];
    expect(pages.length).toBeLessThan(50);
  }
  return { pages, items: pages.flatMap((p) => p.value) };
}

describe('paging', () => {
  // Azure: GET /applications returns 100 objects a page by default and an @odata.nextLink until the last page.
  it('pages by 100 by default, with a nextLink carrying a $skiptoken, until every app was listed', async () => {
    const { pages, items } = await allPages('/v1.0/applications');
    expect(pages[0]!.value).toHaveLength(100);
    expect(pages[0]!['@odata.nextLink']).toMatch(/^https:\/\/.+\/v1\.0\/applications\?.*\$skiptoken=/);
    expect(pages.at(-1)!['@odata.nextLink']).toBeUndefined();
    expect(new Set(items.map((a) => a.id)).size).toBe(sb.directory.apps().length);
  });

  // Azure: $top sets the page size, 1..999; the nextLink keeps the request's other query options ($select).
  it('honours $top and keeps $select in the nextLink; $top=999 lists everything in one page', async () => {
    const { pages } = await allPages('/v1.0/applications?$top=7&$select=id,displayName');
    expect(pages[0]!.value).toHaveLength(7);
    expect(Object.keys(pages[0]!.value[0]!).sort()).toEqual(['displayName', 'id']);
    expect(pages[0]!['@odata.nextLink']).toContain('$select=id');
    expect(pages[1]!.value).toHaveLength(7);
    const one = await allPages('/v1.0/applications?$top=999');
    expect(one.pages).toHaveLength(1);
  });

  // Azure: "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive." (400 Request_UnsupportedQuery).
  it('refuses $top outside 1..999 with Request_UnsupportedQuery', async () => {
    for (const top of ['1000', '0']) {
      const res = await graph(sb, token, 'GET', `/v1.0/applications?$top=${top}`);
      expect(res.status).toBe(400);
      expect(graphError(res)).toMatchObject({
        code: 'Request_UnsupportedQuery',
        message: `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`,
      });
    }
  });
});

describe('$filter on applications', () => {
  const list = async (filter: string) => {
    const res = await graph(sb, token, 'GET', `/v1.0/applications?$top=999&$filter=${encodeURIComponent(filter)}`);
    expect(res.status).toBe(200);
    return (res.body as unknown as Page).value.map((a) => a.displayName as string);
  };

  // Azure: appId, displayName and id support eq; displayName and appId support startsWith (application.md).
  it('filters with eq on appId, displayName and id, and startswith on displayName', async () => {
    const a = made[3]!;
    expect(await list(`appId eq '${a.appId}'`)).toEqual([a.displayName]);
    expect(await list(`displayName eq '${a.displayName}'`)).toEqual([a.displayName]);
    expect(await list(`id eq '${a.id}'`)).toEqual([a.displayName]);
    expect(await list(`startswith(displayName,'${prefix}-01')`)).toHaveLength(10);
  });

  // Azure: `and` and `or` combine clauses (filter-query-parameter.md).
  it('combines clauses with and / or and parentheses, and matches a list with in', async () => {
    const [a, b] = [made[0]!, made[1]!];
    expect((await list(`appId eq '${a.appId}' or appId eq '${b.appId}'`)).sort()).toEqual(
      [a.displayName, b.displayName].sort(),
    );
    expect(await list(`startswith(displayName,'${prefix}') and (id eq '${b.id}' or id eq 'nothing')`)).toEqual([
      b.displayName,
    ]);
    expect(await list(`appId eq '${a.appId}' and appId eq '${b.appId}'`)).toEqual([]);
    // Azure: `in` is among the default operators of appId, displayName and id (application.md).
    expect((await list(`appId in ('${a.appId}','${b.appId}')`)).sort()).toEqual([a.displayName, b.displayName].sort());
  });

  // Azure: keyCredentials/any(x:x/keyId eq {guid}) finds the app holding a credential (application.md).
  it('finds an app by one of its key credentials with keyCredentials/any', async () => {
    const target = sb.targets.find((t) => t.name === 'contoso-api')!;
    const keyId = sb.directory.appById(target.objectId)!.keyCredentials[0]!.keyId;
    expect(await list(`keyCredentials/any(x:x/keyId eq ${keyId})`)).toEqual(['contoso-api']);
    expect(await list(`keyCredentials/any(c:c/keyId eq '${keyId}')`)).toEqual(['contoso-api']);
  });

  // Azure: a clause the resource does not support is 400 Request_UnsupportedQuery in Graph's error body; a malformed
  // one is 400 BadRequest "Invalid filter clause".
  it("answers unsupported and malformed filters with Graph's own 400 errors", async () => {
    const unsupported = await graph(
      sb,
      token,
      'GET',
      `/v1.0/applications?$filter=${encodeURIComponent("notes eq 'x'")}`,
    );
    expect(unsupported.status).toBe(400);
    expect(graphError(unsupported).code).toBe('Request_UnsupportedQuery');
    expect(graphError(unsupported).message).toContain("property 'notes' of resource 'Application'");
    expect(graphError(unsupported).innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    const endsWith = await graph(
      sb,
      token,
      'GET',
      `/v1.0/applications?$filter=${encodeURIComponent('keyCredentials/any(x:x/endDateTime ge 2030-01-01T00:00:00Z)')}`,
    );
    expect(graphError(endsWith).code).toBe('Request_UnsupportedQuery');
    const malformed = await graph(sb, token, 'GET', `/v1.0/applications?$filter=${encodeURIComponent('appId eq')}`);
    expect(malformed.status).toBe(400);
    expect(graphError(malformed)).toMatchObject({ code: 'BadRequest' });
    expect(graphError(malformed).message).toMatch(/^Invalid filter clause/);
  });
});

describe('servicePrincipals', () => {
  // Azure: each app registration has a service principal in its tenant (servicePrincipal.md), listed and read by
  // object id or by the alternate key appId, with appId, id, displayName, servicePrincipalType and its own
  // (for a registration, empty) keyCredentials and passwordCredentials.
  it('lists one service principal per app and reads it by id and by appId', async () => {
    const { items } = await allPages('/v1.0/servicePrincipals?$top=999');
    expect(items).toHaveLength(sb.directory.apps().length);
    const contoso = sb.directory.appById(sb.targets.find((t) => t.name === 'contoso-api')!.objectId)!;
    const byId = await graph(sb, token, 'GET', `/v1.0/servicePrincipals/${contoso.servicePrincipalId}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({
      id: contoso.servicePrincipalId,
      appId: contoso.appId,
      displayName: 'contoso-api',
      servicePrincipalType: 'Application',
      accountEnabled: true,
      appOwnerOrganizationId: sb.tenantId,
      keyCredentials: [],
      passwordCredentials: [],
    });
    expect(byId.body!['@odata.context']).toContain('$metadata#servicePrincipals/$entity');
    const byAppId = await graph(sb, token, 'GET', `/v1.0/servicePrincipals(appId='${contoso.appId}')?$select=id`);
    expect(byAppId.body).toMatchObject({ id: contoso.servicePrincipalId });
    expect(byAppId.body!.appId).toBeUndefined();
    const missing = await graph(sb, token, 'GET', `/v1.0/servicePrincipals/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(graphError(missing).code).toBe('Request_ResourceNotFound');
  });

  // Azure: servicePrincipals support $filter on appId (eq) and displayName (eq, startsWith), and page like any list.
  it('filters service principals by appId and displayName and pages them', async () => {
    const a = made[42]!;
    const res = await graph(
      sb,
      token,
      'GET',
      `/v1.0/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${a.appId}'`)}`,
    );
    expect((res.body as unknown as Page).value.map((s) => s.id)).toEqual([a.servicePrincipalId]);
    const { pages } = await allPages(
      `/v1.0/servicePrincipals?$top=100&$filter=${encodeURIComponent(`startswith(displayName,'${prefix}')`)}`,
    );
    expect(pages.map((p) => p.value.length)).toEqual([100, 100, 30]);
  });
});

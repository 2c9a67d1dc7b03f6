/**
 * discover's tenant reader over a fake `fetch`: per-environment website lists are read at once and come back in the
 * environments' order whatever order they finish in; application users are looked up 50 app ids per `or` query; a
 * refused `systemusers` becomes the one "could not read systemusers: grant …" note.
 */
import type { TokenCredential } from '@azure/core-auth';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTenantReader } from '../../../../src/adapters/azure/tenant-reader.js';

const PP = 'https://api.powerplatform.com';
const GRAPH = 'https://graph.microsoft.com';
const DV = 'https://org1.crm.dynamics.com';

const credential: TokenCredential = {
  getToken: async () => ({ token: 'not-a-secret', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

interface Pending {
  url: string;
  respond(status: number, body: unknown): void;
}

/** A fake fetch whose answers the test gives, in any order; `answer` answers some URLs at once. */
function controlledFetch(answer: (url: string) => { status: number; body: unknown } | undefined) {
  const pending: Pending[] = [];
  const urls: string[] = [];
  const fetch = vi.fn(
    (input: string | URL | Request) =>
      new Promise<Response>((resolve) => {
        const url = String(input);
        urls.push(url);
        const respond = (status: number, body: unknown) =>
          resolve(new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }));
        const now = answer(url);
        if (now) respond(now.status, now.body);
        else pending.push({ url, respond });
      }),
  );
  return { fetch, pending, urls };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('the Azure tenant reader', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('reads the websites of every environment at once and keeps the environments’ order', async () => {
    const envs = ['env-a', 'env-b', 'env-c'];
    const f = controlledFetch((url) =>
      url.includes('/environmentmanagement/environments')
        ? { status: 200, body: { value: envs.map((id) => ({ id, displayName: id.toUpperCase() })) } }
        : undefined,
    );
    vi.stubGlobal('fetch', f.fetch);
    const reader = createTenantReader({ graphUrl: GRAPH, powerPlatformUrl: PP, credential, concurrency: 8 });
    const read = reader.sites();
    await settle();
    // All three lists are in flight together…
    expect(f.pending.map((p) => new URL(p.url).pathname)).toEqual(
      envs.map((e) => `/powerpages/environments/${e}/websites`),
    );
    // …and finish in reverse order.
    for (const p of [...f.pending].reverse()) {
      const env = /environments\/([^/]+)\//.exec(p.url)![1]!;
      p.respond(200, { value: [{ id: `site-${env}`, name: env, applicationUserAadAppId: `app-${env}` }] });
      await settle();
    }
    const sites = await read;
    expect(sites.note).toBeUndefined();
    expect(sites.value.map((s) => [s.environmentId, s.websiteId, s.environmentName])).toEqual([
      ['env-a', 'site-env-a', 'ENV-A'],
      ['env-b', 'site-env-b', 'ENV-B'],
      ['env-c', 'site-env-c', 'ENV-C'],
    ]);
  });

  it('keeps at most `concurrency` per-item reads in flight', async () => {
    const envs = Array.from({ length: 5 }, (_, i) => `env-${i}`);
    const f = controlledFetch((url) =>
      url.includes('/environmentmanagement/environments')
        ? { status: 200, body: { value: envs.map((id) => ({ id })) } }
        : undefined,
    );
    vi.stubGlobal('fetch', f.fetch);
    const read = createTenantReader({ graphUrl: GRAPH, powerPlatformUrl: PP, credential, concurrency: 2 }).sites();
    let answered = 0;
    for (;;) {
      await settle();
      expect(f.pending.length).toBeLessThanOrEqual(2);
      const p = f.pending.shift();
      if (!p) break;
      p.respond(200, { value: [] });
      answered++;
    }
    expect(answered).toBe(5);
    expect((await read).value).toEqual([]);
  });

  it('looks up application users 50 app ids per `or` query, with name, disabled flag and business unit', async () => {
    const appIds = Array.from({ length: 120 }, (_, i) => guid(i));
    const f = controlledFetch((url) => {
      if (url.includes('/powerpages/environments/env1/websites')) {
        return {
          status: 200,
          body: { value: [{ id: 's', applicationUserAadAppId: guid(0), dataverseInstanceUrl: DV }] },
        };
      }
      if (url.startsWith(`${DV}/api/data/v9.2/systemusers`)) {
        const filter = new URL(url).searchParams.get('$filter')!;
        const ids = [...filter.matchAll(/applicationid eq ([0-9a-f-]+)/g)].map((m) => m[1]!);
        const value = ids
          .filter((id) => id === guid(7) || id === guid(101))
          .map((id) => ({
            systemuserid: `user-${id.slice(-3)}`,
            fullname: `# app ${id.slice(-3)}`,
            applicationid: id,
            isdisabled: id === guid(101),
            _businessunitid_value: 'bu-1',
            '_businessunitid_value@OData.Community.Display.V1.FormattedValue': 'Contoso',
          }));
        return { status: 200, body: { value } };
      }
      return { status: 404, body: { error: { code: 'NotFound', message: url } } };
    });
    vi.stubGlobal('fetch', f.fetch);
    const reader = createTenantReader({ graphUrl: GRAPH, powerPlatformUrl: PP, credential });
    const users = await reader.applicationUsers('env1', [...appIds, appIds[3]!.toUpperCase(), 'not-a-guid']);
    expect(users.note).toBeUndefined();
    const queries = f.urls.filter((u) => u.startsWith(`${DV}/api/data/v9.2/systemusers`));
    expect(queries.map((u) => new URL(u).searchParams.get('$filter')!.split(' or ').length).sort()).toEqual([
      20, 50, 50,
    ]);
    expect([...users.value]).toEqual([
      [
        guid(7),
        {
          systemUserId: 'user-007',
          name: '# app 007',
          disabled: false,
          businessUnitId: 'bu-1',
          businessUnitName: 'Contoso',
        },
      ],
      [
        guid(101),
        {
          systemUserId: 'user-101',
          name: '# app 101',
          disabled: true,
          businessUnitId: 'bu-1',
          businessUnitName: 'Contoso',
        },
      ],
    ]);
  });

  it('turns a refused systemusers into one note naming the privilege to grant', async () => {
    const f = controlledFetch((url) => {
      if (url.includes('/websites')) {
        return {
          status: 200,
          body: { value: [{ id: 's', applicationUserAadAppId: guid(0), dataverseInstanceUrl: DV }] },
        };
      }
      return {
        status: 403,
        body: {
          error: {
            code: '0x80040220',
            message:
              "Principal user (Id=x, type=8) is missing prvReadSystemUser privilege (Id=y) on OTC=8 for entity 'systemuser'.",
          },
        },
      };
    });
    vi.stubGlobal('fetch', f.fetch);
    const users = await createTenantReader({ graphUrl: GRAPH, powerPlatformUrl: PP, credential }).applicationUsers(
      'env1',
      [guid(1), guid(2)],
    );
    expect(users.value.size).toBe(0);
    expect(users.note).toBe(
      "could not read systemusers: grant prvReadSystemUser (Read on systemuser) to certrotate's application user",
    );
  });
});

/**
 * The sandbox Dataverse tables the identity audit reads, over raw HTTPS (reference
 * dataverse-identity-and-notifications.md §1–§2): `$select`/`$filter`/`$top`/`$expand` of the N:N associations,
 * team membership and the roles teams give (`teammembership_association`, `teamroles_association`, both directions,
 * never nested), paging with `Prefer: odata.maxpagesize` and an unedited `@odata.nextLink`, 403 `0x80040220` for a table the caller
 * may not read, 400 `0x80060888` for an unknown property, and the seeded identity world.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import { https, secretToken, type WireResponse } from './wire.js';

let sb: Sandbox;
let denied: Sandbox;
let teams: Sandbox;
let token: string;

const api = (s: Sandbox) => `${s.urls.dataverse}/api/data/v9.2`;
const headers = (t: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${t}`,
  accept: 'application/json',
  'odata-maxversion': '4.0',
  'odata-version': '4.0',
  ...extra,
});
const get = (s: Sandbox, t: string, path: string, extra?: Record<string, string>): Promise<WireResponse> =>
  https(s, 'GET', path.startsWith('https:') ? path : `${api(s)}/${path}`, { headers: headers(t, extra) });
type Rows = Record<string, unknown>[];
const rows = (r: WireResponse) => r.body!.value as Rows;
const opToken = (s: Sandbox) =>
  secretToken(s, s.operator.clientId, s.operator.clientSecret, `${s.urls.dataverse}/.default`);

beforeAll(async () => {
  [sb, denied, teams] = await Promise.all([
    startSandbox({
      propagationDelaySeconds: 0,
      keyPoolSize: 1,
      identity: { pagingRecords: 5000, operatorReads: true },
    }),
    startSandbox({
      propagationDelaySeconds: 0,
      keyPoolSize: 1,
      identity: { denyTable: 'workflows', operatorReads: true },
    }),
    startSandbox({
      propagationDelaySeconds: 0,
      keyPoolSize: 1,
      identity: { operatorReads: true, teamSites: true },
    }),
  ]);
  token = await opToken(sb);
});
afterAll(() => Promise.all([sb?.stop(), denied?.stop(), teams?.stop()]));

describe('systemusers', () => {
  it('finds SYSTEM and INTEGRATION by fullname, with the primary key always returned', async () => {
    const r = await get(
      sb,
      token,
      `systemusers?$select=fullname,accessmode&$filter=fullname eq 'SYSTEM' or fullname eq 'INTEGRATION'`,
    );
    expect(r.status).toBe(200);
    expect(r.headers['odata-version']).toBe('4.0');
    expect(r.body!['@odata.context']).toBe(
      `${sb.urls.dataverse}/api/data/v9.2/$metadata#systemusers(fullname,accessmode)`,
    );
    const found = rows(r);
    expect(found.map((u) => u.fullname).sort()).toEqual(['INTEGRATION', 'SYSTEM']);
    const system = found.find((u) => u.fullname === 'SYSTEM')!;
    expect(system.systemuserid).toBe(sb.identity.systemUserId);
    expect(system['@odata.etag']).toMatch(/^W\/"\d+"$/);
    expect(Object.keys(system).sort()).toEqual(['@odata.etag', 'accessmode', 'fullname', 'systemuserid']);
  });

  it('has no application user for the site on SYSTEM, and one for the clean site', async () => {
    const contoso = sb.targets.find((t) => t.name === 'contoso-portal')!;
    const northwind = sb.targets.find((t) => t.name === 'northwind-portal')!;
    const none = await get(sb, token, `systemusers?$select=fullname&$filter=applicationid eq ${contoso.appId}`);
    expect(rows(none)).toEqual([]);
    const one = await get(
      sb,
      token,
      `systemusers?$select=fullname,isdisabled,accessmode&$filter=applicationid eq ${northwind.appId.toUpperCase()}`,
    );
    expect(rows(one)).toHaveLength(1);
    expect(rows(one)[0]).toMatchObject({ fullname: '# Portals-northwind-portal', isdisabled: false, accessmode: 4 });
  });

  it('expands both N:N associations side by side, and reads them as navigation collections', async () => {
    const appId = sb.identity.migratedSite.appId;
    const [user] = rows(await get(sb, token, `systemusers?$select=systemuserid&$filter=applicationid eq ${appId}`));
    const id = user!.systemuserid as string;
    const r = await get(
      sb,
      token,
      `systemusers(${id})?$select=fullname&$expand=systemuserroles_association($select=name,roleid,_parentrootroleid_value),systemuserprofiles_association($select=name,fieldsecurityprofileid)`,
    );
    expect(r.status).toBe(200);
    expect(r.body!.fullname).toBe('# Portals-fabrikam-portal');
    const roles = (r.body!.systemuserroles_association as Rows).map((x) => x.name).sort();
    expect(roles).toEqual(['Portal Application User', 'Service Deleter', 'Service Writer', 'System Administrator']);
    expect((r.body!.systemuserprofiles_association as Rows)[0]).toMatchObject({
      name: 'System Administrator',
      fieldsecurityprofileid: '572329c1-a042-4e22-be47-367c6374ea45',
    });
    const nav = await get(
      sb,
      token,
      `systemusers(${id})/systemuserroles_association?$select=name&$filter=name eq 'service writer'`,
    );
    expect(rows(nav).map((x) => x.name)).toEqual(['Service Writer']);
    const reverse = await get(
      sb,
      token,
      `fieldsecurityprofiles(572329c1-a042-4e22-be47-367c6374ea45)/systemuserprofiles_association?$select=fullname`,
    );
    expect(rows(reverse).map((x) => x.fullname)).toContain('# Portals-fabrikam-portal');
  });

  it('keeps a copy of each role per business unit, pointing at its root role', async () => {
    const copies = rows(
      await get(
        sb,
        token,
        `roles?$select=name,_businessunitid_value,_parentrootroleid_value&$filter=name eq 'Service Writer'`,
      ),
    );
    expect(copies).toHaveLength(2);
    expect(new Set(copies.map((c) => c.roleid)).size).toBe(2);
    expect(new Set(copies.map((c) => c._parentrootroleid_value)).size).toBe(1);
  });
});

describe('teams', () => {
  const userOf = async (s: Sandbox, t: string, appId: string) =>
    rows(await get(s, t, `systemusers?$select=fullname&$filter=applicationid eq ${appId}`))[0]!.systemuserid as string;

  it('every application user is a member of the business unit default team, which holds no role', async () => {
    const northwind = sb.targets.find((t) => t.name === 'northwind-portal')!;
    const id = await userOf(sb, token, northwind.appId);
    const member = rows(
      await get(sb, token, `systemusers(${id})/teammembership_association?$select=name,teamtype,isdefault`),
    );
    expect(member).toEqual([
      expect.objectContaining({ teamid: sb.identity.defaultTeamId, isdefault: true, teamtype: 0 }),
    ]);
    const held = await get(sb, token, `teams(${sb.identity.defaultTeamId})/teamroles_association?$select=name`);
    expect(held.status).toBe(200);
    expect(rows(held)).toEqual([]);
  });

  it('gives a role through a team: membership, then the team’s roles (a child business unit’s copy)', async () => {
    const t = await opToken(teams);
    const site = teams.identity.teamSites!.portalRoleViaTeam;
    const id = await userOf(teams, t, site.appId);
    const member = rows(await get(teams, t, `systemusers(${id})/teammembership_association?$select=name,isdefault`));
    expect(member.map((m) => m.name).sort()).toEqual(['Litware Portal Apps', 'contoso-prod']);
    const held = rows(
      await get(
        teams,
        t,
        `teams(${site.teamId})/teamroles_association?$select=name,_businessunitid_value,_parentrootroleid_value`,
      ),
    );
    expect(held).toHaveLength(1);
    expect(held[0]!.name).toBe('Portal Application User');
    // The copy's root is another row: the role counts by name or root, never by id.
    expect(held[0]!._parentrootroleid_value).not.toBe(held[0]!.roleid);
    const own = rows(await get(teams, t, `systemusers(${id})/systemuserroles_association?$select=name`));
    expect(own.map((r) => r.name).sort()).toEqual(['Service Deleter', 'Service Writer']);
  });

  it('expands the associations side by side, in both directions, and refuses a nested N:N expand', async () => {
    const t = await opToken(teams);
    const site = teams.identity.teamSites!.adminViaTeam;
    const id = await userOf(teams, t, site.appId);
    const user = await get(
      teams,
      t,
      `systemusers(${id})?$select=fullname&$expand=systemuserroles_association($select=name),teammembership_association($select=name)`,
    );
    expect(user.status).toBe(200);
    expect((user.body!.teammembership_association as Rows).map((x) => x.name).sort()).toEqual([
      'Dataverse Administrators',
      'contoso-prod',
    ]);
    expect((user.body!.systemuserroles_association as Rows).map((x) => x.name)).not.toContain('System Administrator');
    const team = await get(
      teams,
      t,
      `teams(${site.teamId})?$select=name&$expand=teamroles_association($select=name),teammembership_association($select=fullname)`,
    );
    expect((team.body!.teamroles_association as Rows).map((x) => x.name)).toEqual(['System Administrator']);
    expect((team.body!.teammembership_association as Rows).map((x) => x.fullname)).toEqual(['# Portals-adatum-portal']);
    const listed = await get(
      teams,
      t,
      `teams?$select=name&$filter=isdefault eq false&$expand=teamroles_association($select=name)`,
    );
    expect(
      rows(listed)
        .map((x) => [x.name, (x.teamroles_association as Rows).map((r) => r.name)])
        .sort(),
    ).toEqual([
      ['Dataverse Administrators', ['System Administrator']],
      ['Litware Portal Apps', ['Portal Application User']],
    ]);
    const nested = await get(
      teams,
      t,
      `systemusers(${id})?$expand=teammembership_association($expand=teamroles_association($select=name))`,
    );
    expect(nested.status).toBe(400);
    expect((nested.body as { error: { code: string } }).error.code).toBe('0x80060888');
  });
});

describe('workflows and Liquid', () => {
  it('lists the definitions owned by SYSTEM, not their activation rows', async () => {
    const sys = sb.identity.systemUserId;
    const r = await get(
      sb,
      token,
      `workflows?$select=name,category,mode,statecode,_ownerid_value&$filter=_ownerid_value eq ${sys} and type eq 1 and (category eq 0 or category eq 3)`,
      { prefer: 'odata.include-annotations="*"' },
    );
    const found = rows(r);
    expect(found.map((w) => [w.name, w.mode]).sort()).toEqual([
      ['Case: stamp portal contact', 1],
      ['Contact: weekly digest', 0],
    ]);
    expect(found[0]!['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('systemuser');
  });

  it('filters Liquid with contains, and refuses an unknown property with 0x80060888', async () => {
    const r = await get(sb, token, `adx_contentsnippets?$select=adx_name&$filter=contains(adx_value,'eq-userid')`);
    expect(rows(r).map((x) => x.adx_name)).toEqual(['My Open Tasks']);
    const enhanced = await get(
      sb,
      token,
      `powerpagecomponents?$select=name,content&$filter=powerpagecomponenttype eq 8 and contains(content,'SYSTEM')`,
    );
    expect(rows(enhanced).map((x) => x.name)).toEqual(['Open Orders']);
    expect(JSON.parse(rows(enhanced)[0]!.content as string).source).toContain('uiname="SYSTEM"');
    const bad = await get(sb, token, `adx_webtemplates?$select=adx_nom`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: '0x80060888', message: expect.stringContaining('adx_nom') } });
  });

  it('honours $top without a page size, and ne', async () => {
    const r = await get(sb, token, `adx_webpages?$select=adx_name&$top=3&$filter=adx_name ne 'Home'`);
    expect(rows(r)).toHaveLength(3);
    expect(r.body!['@odata.nextLink']).toBeUndefined();
  });
});

describe('paging', () => {
  it('reads 5,000+ rows across pages by following @odata.nextLink unchanged', async () => {
    const prefer = { prefer: 'odata.maxpagesize=1000' };
    let next: string | undefined = `${api(sb)}/adx_webpages?$select=adx_name`;
    const ids = new Set<unknown>();
    let pages = 0;
    while (next) {
      const r = await get(sb, token, next, prefer);
      expect(r.status).toBe(200);
      expect(r.headers['preference-applied']).toBe('odata.maxpagesize=1000');
      for (const row of rows(r)) ids.add(row.adx_webpageid);
      next = r.body!['@odata.nextLink'] as string | undefined;
      if (next) expect(new URL(next).searchParams.get('$skiptoken')).toMatch(/^<cookie pagenumber="\d+"/);
      pages++;
    }
    // 5,000 planted rows plus one Home page per seeded site.
    expect(ids.size).toBe(5000 + 3);
    expect(pages).toBe(6);
  });
});

describe('privileges', () => {
  it('answers 403 0x80040220 for a table the caller may not read, and serves the others', async () => {
    const t = await opToken(denied);
    const r = await get(denied, t, 'workflows?$select=name');
    expect(r.status).toBe(403);
    const err = (r.body as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('0x80040220');
    expect(err.message).toMatch(
      /^Principal user \(Id=[0-9a-f-]{36}, type=8, .*is missing prvReadWorkflow privilege .* for entity 'workflow'/,
    );
    expect((await get(denied, t, 'adx_webtemplates?$select=adx_name')).status).toBe(200);
  });

  it('answers 401 with the Dataverse challenge when the bearer token is missing', async () => {
    const r = await https(sb, 'GET', `${api(sb)}/systemusers`, { headers: { accept: 'application/json' } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer authorization_uri=/);
  });
});

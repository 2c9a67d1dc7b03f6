/**
 * `certrotate identity` against the seeded identity world (issue 13): contoso-portal on SYSTEM with its planted
 * dependencies (two FetchXML filters on SYSTEM in both data models, an `eq-userid` snippet, a real-time and a
 * background workflow owned by SYSTEM), northwind-portal clean, the keyvault targets' integrations holding System
 * Administrator; a 5,000-row table read across pages; a table the identity may not read; and no write at all.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { RecordedNotification } from '../../src/sandbox/notification-receivers.js';
import { admin, cli, getRequests, parseJson, startE2eSandbox, type Sandbox } from '../helpers/sandbox.js';

interface Finding {
  severity: string;
  kind: string;
  table: string;
  recordId: string | null;
  name: string | null;
  excerpt: string;
  fix: string;
}
interface TargetRow {
  name: string;
  environmentId: string | null;
  identity: {
    kind: string;
    systemUserId: string | null;
    name: string | null;
    disabled: boolean | null;
    roles: string[];
    columnProfiles: string[];
  } | null;
  verdict: string | null;
  findings: Finding[];
  error?: string;
}
interface IdentityDocument {
  formatVersion: number;
  targets: TargetRow[];
}

const brief = (f: Finding) => ({ severity: f.severity, kind: f.kind, table: f.table, name: f.name });

describe('certrotate identity', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    // The notify receivers hear only `identity --notify` (the last tests, after the no-write check).
    sb = await startE2eSandbox({ identity: { operatorReads: true, pagingRecords: 5000 }, notifyReceivers: true });
  });
  afterAll(() => sb?.stop());

  it('reports every planted dependency on SYSTEM once, nothing for the clean site, reading across pages', async () => {
    const r = await cli(sb.configPath, ['identity', '--json', '--detailed-exitcode']);
    expect(r.code, r.stderr).toBe(2);
    const doc = parseJson<IdentityDocument>(r);
    expect(doc.formatVersion).toBe(1);
    const byName = new Map(doc.targets.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['contoso-api', 'contoso-portal', 'fabrikam-api', 'northwind-portal']);

    const contoso = byName.get('contoso-portal')!;
    expect(contoso.identity).toEqual({
      kind: 'system',
      systemUserId: sb.identity.systemUserId,
      name: 'SYSTEM',
      disabled: null,
      roles: [],
      columnProfiles: [],
    });
    expect(contoso.verdict).toBe('findings');
    expect(contoso.environmentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(contoso.findings.map(brief)).toEqual([
      { severity: 'high', kind: 'fetchxmlSystemFilter', table: 'adx_webtemplates', name: 'My Cases' },
      { severity: 'high', kind: 'fetchxmlSystemFilter', table: 'powerpagecomponents', name: 'Open Orders' },
      { severity: 'high', kind: 'workflowOwnedBySystem', table: 'workflows', name: 'Case: stamp portal contact' },
      { severity: 'medium', kind: 'fetchxmlUserOperator', table: 'adx_contentsnippets', name: 'My Open Tasks' },
      { severity: 'medium', kind: 'workflowOwnedBySystem', table: 'workflows', name: 'Contact: weekly digest' },
    ]);
    for (const f of contoso.findings) {
      expect(f.recordId).toMatch(/^[0-9a-f-]{36}$/);
      expect(f.excerpt.length).toBeGreaterThan(0);
      expect(f.fix.length).toBeGreaterThan(0);
    }
    expect(contoso.findings[0]!.excerpt).toContain(`{${sb.identity.systemUserId.toUpperCase()}}`);
    expect(contoso.findings.find((f) => f.table === 'workflows')!.fix).toBe(
      'assign the workflow to the application user or a team',
    );

    // northwind-portal: its application user holds exactly the documented set, and its Liquid (5,000 extra pages
    // of it) filters on nothing SYSTEM-dependent.
    const northwind = byName.get('northwind-portal')!;
    expect(northwind.identity).toEqual(
      expect.objectContaining({ kind: 'applicationUser', name: '# Portals-northwind-portal', disabled: false }),
    );
    expect([...northwind.identity!.roles].sort()).toEqual([
      'Portal Application User',
      'Service Deleter',
      'Service Writer',
    ]);
    expect(northwind.identity!.columnProfiles).toEqual(['System Administrator']);
    expect(northwind.findings).toEqual([]);
    expect(northwind.verdict).toBe('ok');

    // keyvault targets: their integrations' System Administrator role is flagged.
    for (const name of ['contoso-api', 'fabrikam-api']) {
      const t = byName.get(name)!;
      expect(t.identity?.kind).toBe('applicationUser');
      expect(t.verdict).toBe('overPrivileged');
      expect(t.findings.map((f) => [f.severity, f.kind, f.excerpt])).toEqual([
        ['high', 'extraRole', "role 'System Administrator' assigned"],
      ]);
    }

    // The 5,000 added web pages came in pages, each link followed as Dataverse gave it.
    const requests = await getRequests(sb);
    const webpageReads = requests.filter((q) => q.service === 'dataverse' && q.path.includes('adx_webpages'));
    // contoso's one page, and northwind's 5,001 rows at odata.maxpagesize=1000: six pages.
    expect(webpageReads.length).toBe(7);
    expect(webpageReads.every((q) => q.status === 200)).toBe(true);
  });

  it('--environment adds the migrated site found only as an application user: System Administrator, overPrivileged', async () => {
    const env = sb.targets.find((t) => t.name === 'contoso-portal')!.environmentId!;
    const r = await cli(sb.configPath, ['identity', '--environment', env, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<IdentityDocument>(r);
    expect(doc.targets.map((t) => [t.name, t.verdict])).toEqual([
      ['contoso-portal', 'findings'],
      ['northwind-portal', 'ok'],
      ['fabrikam-portal', 'overPrivileged'],
    ]);
    const fabrikam = doc.targets[2]!;
    expect(fabrikam.environmentId).toBe(env);
    expect(fabrikam.identity).toEqual(
      expect.objectContaining({ kind: 'applicationUser', name: '# Portals-fabrikam-portal', disabled: false }),
    );
    expect(fabrikam.findings.map(brief)).toEqual([
      { severity: 'high', kind: 'extraRole', table: 'systemusers', name: '# Portals-fabrikam-portal' },
    ]);
    expect(fabrikam.findings[0]!.excerpt).toBe("role 'System Administrator' assigned");
  });

  it('prints a readable table and exits 0 without --detailed-exitcode', async () => {
    const r = await cli(sb.configPath, ['identity', 'contoso-portal']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^TARGET\s+IDENTITY\s+NAME\s+ROLES\s+VERDICT\s+FINDINGS/);
    expect(r.stdout).toMatch(/contoso-portal\s+system\s+SYSTEM\s+-\s+findings\s+5/);
    expect(r.stdout).toContain('fix: assign the workflow to the application user or a team');
  });

  it('--html writes a self-contained page with the identities and the findings table', async () => {
    const file = join(sb.dir, 'identity.html');
    const r = await cli(sb.configPath, ['identity', 'contoso-portal', '--html', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Identity report written to ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html.match(/<tr data-kind="/g)).toHaveLength(5);
    expect(html).toContain('<tr data-kind="workflowOwnedBySystem">');
    // The excerpt is escaped: FetchXML is text on the page, never markup.
    expect(html).toContain('&lt;condition attribute=&quot;ownerid&quot;');
    expect(html).not.toContain('<condition');
  });

  it('names a table it may not read and what to grant, exits 1, and still reports the rest', async () => {
    sb.dataverseTables.denied.add('adx_contentsnippets');
    try {
      const r = await cli(sb.configPath, ['identity', 'contoso-portal', '--json']);
      expect(r.code, r.stderr).toBe(1);
      const [contoso] = parseJson<IdentityDocument>(r).targets;
      const unreadable = contoso!.findings.filter((f) => f.kind === 'unreadableTable');
      expect(unreadable).toEqual([
        expect.objectContaining({
          table: 'adx_contentsnippets',
          excerpt:
            "could not read adx_contentsnippets: grant prvReadAdx_contentsnippet (Read on adx_contentsnippet) to certrotate's application user",
        }),
      ]);
      expect(contoso!.findings.filter((f) => f.kind !== 'unreadableTable').map((f) => f.name)).toEqual([
        'My Cases',
        'Open Orders',
        'Case: stamp portal contact',
        'Contact: weekly digest',
      ]);
      const text = await cli(sb.configPath, ['identity', 'contoso-portal']);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain('could not read adx_contentsnippets: grant prvReadAdx_contentsnippet');
    } finally {
      sb.dataverseTables.denied.delete('adx_contentsnippets');
    }
  });

  it('plan --json carries the identity verdict of a power-pages target, outside its fingerprint', async () => {
    const r = await cli(sb.configPath, ['plan', 'contoso-portal', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = parseJson<{ fingerprint: string; identity: unknown }>(r);
    expect(plan.identity).toEqual({ verdict: 'findings', kind: 'system', name: 'SYSTEM', findings: 5 });
    const text = await cli(sb.configPath, ['plan', 'contoso-portal']);
    expect(text.stdout).toContain('Identity: SYSTEM (legacy) — 5 findings; run `certrotate identity contoso-portal');
    expect(text.stdout).toContain(`fingerprint ${plan.fingerprint}`);
    const northwind = parseJson<{ identity: unknown }>(
      await cli(sb.configPath, ['plan', 'northwind-portal', '--json']),
    );
    expect(northwind.identity).toEqual({
      verdict: 'ok',
      kind: 'applicationUser',
      name: '# Portals-northwind-portal',
      findings: 0,
    });
  });

  it('rejects an unknown target naming the value and the configured ones', async () => {
    const r = await cli(sb.configPath, ['identity', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('argument NAME: got "nope"; expected a configured target (contoso-api');
  });

  it('sends no write to any service', async () => {
    const writes = (await getRequests(sb)).filter((q) => q.method !== 'GET' && q.service !== 'entra');
    expect(writes).toEqual([]);
  });

  it('--notify sends identityFindings with the counts and fixes to every channel, keeping the exit code', async () => {
    // What `. D/notify.env` would export.
    const text = await readFile(join(sb.dir, 'notify.env'), 'utf8');
    const env = Object.fromEntries([...text.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    const r = await cli(sb.configPath, ['identity', 'contoso-portal', '--notify', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<IdentityDocument & { notifications: { target: string; channel: string; event: string }[] }>(
      r,
    );
    expect(
      doc.notifications.map((n) => `${n.target}:${n.channel}:${n.event}:${(n as { status?: string }).status}`).sort(),
    ).toEqual([
      'contoso-portal:slack:identityFindings:sent',
      'contoso-portal:teams:identityFindings:sent',
      'contoso-portal:webhook:identityFindings:sent',
    ]);
    const received = await admin<RecordedNotification[]>(sb, 'GET', '/notifications');
    expect(received.map((d) => `${d.channel}:${d.event}:${d.target}`).sort()).toEqual([
      'slack:identityFindings:contoso-portal',
      'teams:identityFindings:contoso-portal',
      'webhook:identityFindings:contoso-portal',
    ]);
    const body = JSON.stringify(received.find((d) => d.channel === 'webhook')!.body);
    expect(body).toContain('high 3, medium 2, low 0');
    expect(body).toContain('fix:');
    expect(body).toContain('Contact: weekly digest'); // all five fit the listed five: no "and N more"
    expect(body).toContain('certrotate identity contoso-portal');
  });

  it('--notify without a notify section is a usage error', async () => {
    const config = parse(await readFile(sb.configPath, 'utf8')) as Record<string, unknown>;
    delete config.notify;
    const bare = join(sb.dir, 'no-notify.yaml');
    await writeFile(bare, stringify(config));
    const r = await cli(bare, ['identity', '--notify']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('option --notify: no notify channels configured');
  });
});

describe('certrotate identity: roles held through teams', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox({ identity: { operatorReads: true, teamSites: true } });
  });
  afterAll(() => sb?.stop());

  it('counts a documented role held through a team, and flags System Administrator through a team on the team', async () => {
    const env = sb.targets.find((t) => t.name === 'contoso-portal')!.environmentId!;
    const r = await cli(sb.configPath, ['identity', '--environment', env, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const targets = parseJson<IdentityDocument>(r).targets as (TargetRow & {
      identity: { roleGrants?: { name: string; via: string; teamId?: string }[] } | null;
    })[];
    const byName = new Map(targets.map((t) => [t.name, t]));
    const { portalRoleViaTeam, adminViaTeam } = sb.identity.teamSites!;

    // litware-portal: Portal Application User only through "Litware Portal Apps" (a child business unit's copy).
    const litware = byName.get('litware-portal')!;
    expect(litware.verdict).toBe('ok');
    expect(litware.findings).toEqual([]);
    expect([...litware.identity!.roles].sort()).toEqual([
      'Portal Application User',
      'Service Deleter',
      'Service Writer',
    ]);
    expect(litware.identity!.roleGrants).toContainEqual({
      name: 'Portal Application User',
      via: 'team Litware Portal Apps',
      teamId: portalRoleViaTeam.teamId,
    });
    expect(
      litware
        .identity!.roleGrants!.filter((g) => g.via === 'direct')
        .map((g) => g.name)
        .sort(),
    ).toEqual(['Service Deleter', 'Service Writer']);

    // adatum-portal: the documented set, and System Administrator through "Dataverse Administrators".
    const adatum = byName.get('adatum-portal')!;
    expect(adatum.verdict).toBe('overPrivileged');
    expect(adatum.findings).toEqual([
      expect.objectContaining({
        severity: 'high',
        kind: 'extraRole',
        table: 'teams',
        recordId: adminViaTeam.teamId,
        name: 'Dataverse Administrators',
        excerpt: "role 'System Administrator' held by # Portals-adatum-portal through team 'Dataverse Administrators'",
      }),
    ]);
    expect(adatum.findings[0]!.fix).toContain("from team 'Dataverse Administrators'");
    expect(adatum.identity!.roles).toContain('System Administrator');

    // The business unit's default team gives no role: the sites without team grants judge as before.
    expect(byName.get('northwind-portal')!.verdict).toBe('ok');
    expect(byName.get('fabrikam-portal')!.findings.map(brief)).toEqual([
      { severity: 'high', kind: 'extraRole', table: 'systemusers', name: '# Portals-fabrikam-portal' },
    ]);

    // The text names the team beside the role.
    const text = await cli(sb.configPath, ['identity', '--environment', env]);
    expect(text.stdout).toContain('Portal Application User (via team Litware Portal Apps)');
    expect(text.stdout).toContain('System Administrator (via team Dataverse Administrators)');
    const writes = (await getRequests(sb)).filter((q) => q.method !== 'GET' && q.service !== 'entra');
    expect(writes).toEqual([]);
  });
});

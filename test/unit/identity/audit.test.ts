import { describe, expect, it } from 'vitest';
import { auditTarget, rolesText, type AuditInput } from '../../../src/identity/audit.js';

const SYSTEM = 'aaaaaaaa-0000-4000-8000-000000000001';
const APP = '99999999-8888-7777-6666-555555555555';
const role = (name: string, id = crypto.randomUUID(), root: string | null = id) => ({
  roleid: id,
  name,
  parentRootRoleId: root,
});
const documented = () => [role('Portal Application User'), role('Service Deleter'), role('Service Writer')];
const profile = { fieldsecurityprofileid: '572329c1-a042-4e22-be47-367c6374ea45', name: 'System Administrator' };
const base = (over: Partial<AuditInput>): AuditInput => ({
  kind: 'power-pages',
  appUser: null,
  systemUserId: SYSTEM,
  rootRoleNames: new Map(),
  workflows: [],
  texts: [],
  unreadable: [],
  ...over,
});
const user = (over: Partial<NonNullable<AuditInput['appUser']>> = {}) => ({
  systemUserId: 'bbbbbbbb-0000-4000-8000-000000000002',
  name: '# Portals-site',
  disabled: false,
  roles: documented(),
  profiles: [profile],
  ...over,
});
const workflow = {
  workflowid: 'cccccccc-0000-4000-8000-000000000003',
  name: 'Case: stamp',
  category: 0,
  mode: 1,
  statecode: 1,
  type: 1,
  _ownerid_value: SYSTEM,
};

describe('auditTarget', () => {
  it('a site with the documented application user and clean Liquid is ok, and ignores SYSTEM workflows', () => {
    const a = auditTarget(base({ appUser: user(), workflows: [workflow] }), APP);
    expect(a.verdict).toBe('ok');
    expect(a.findings).toEqual([]);
    expect(a.identity).toMatchObject({ kind: 'applicationUser', name: '# Portals-site', disabled: false });
    expect(a.identity.columnProfiles).toEqual(['System Administrator']);
  });

  it('a site with no application user is on SYSTEM: its SYSTEM workflows and Liquid are findings', () => {
    const text = `{% fetchxml x %}<fetch><entity name="incident"><filter><condition attribute="ownerid" operator="eq" value="{${SYSTEM.toUpperCase()}}" /></filter></entity></fetch>{% endfetchxml %}`;
    const a = auditTarget(
      base({
        workflows: [workflow],
        texts: [{ record: { table: 'adx_webtemplates', recordId: 'r1', name: 'T' }, text }],
      }),
      APP,
    );
    expect(a.identity).toEqual({
      kind: 'system',
      systemUserId: SYSTEM,
      name: 'SYSTEM',
      disabled: null,
      roles: [],
      columnProfiles: [],
    });
    expect(a.verdict).toBe('findings');
    expect(a.findings.map((f) => [f.severity, f.kind, f.table])).toEqual([
      ['high', 'fetchxmlSystemFilter', 'adx_webtemplates'],
      ['high', 'workflowOwnedBySystem', 'workflows'],
    ]);
    expect(a.evidence).toContain('SYSTEM (legacy)');
  });

  it('System Administrator on a Power Pages user is overPrivileged; a missing documented role is broken', () => {
    const over = auditTarget(base({ appUser: user({ roles: [...documented(), role('System Administrator')] }) }), APP);
    expect(over.verdict).toBe('overPrivileged');
    expect(over.findings.map((f) => [f.severity, f.kind])).toEqual([['high', 'extraRole']]);
    const broken = auditTarget(base({ appUser: user({ roles: documented().slice(1) }) }), APP);
    expect(broken.verdict).toBe('broken');
    expect(broken.findings.map((f) => f.kind)).toEqual(['missingRole']);
  });

  it('a renamed business-unit copy counts by its root role', () => {
    const root = 'dddddddd-0000-4000-8000-000000000004';
    const roles = [role('Portal App User (EU)', crypto.randomUUID(), root), ...documented().slice(1)];
    const a = auditTarget(
      base({ appUser: user({ roles }), rootRoleNames: new Map([[root, 'Portal Application User']]) }),
      APP,
    );
    expect(a.verdict).toBe('ok');
  });

  it('a keyvault target lists any roles, flags only System Administrator and a disabled user', () => {
    const a = auditTarget(
      base({
        kind: 'keyvault',
        appUser: user({
          name: '# api',
          roles: [role('Sales'), role('System Administrator')],
          profiles: [],
          disabled: true,
        }),
      }),
      APP,
    );
    expect(a.identity.roles).toEqual(['Sales', 'System Administrator']);
    expect(a.verdict).toBe('broken');
    expect(a.findings.map((f) => f.kind).sort()).toEqual(['disabledUser', 'extraRole']);
  });

  it('roles held through a team are listed, and roleGrants says how each is held', () => {
    const team = { teamId: 'eeeeeeee-0000-4000-8000-000000000005', name: 'Portal Apps' };
    const [pau, ...rest] = documented();
    const a = auditTarget(base({ appUser: user({ roles: [...rest, { ...pau!, team }, { ...rest[0]!, team }] }) }), APP);
    expect(a.verdict).toBe('ok');
    // Own roles first, then those held only through a team; a name held both ways is listed once.
    expect(a.identity.roles).toEqual(['Service Deleter', 'Service Writer', 'Portal Application User']);
    expect(a.identity.roleGrants).toEqual([
      { name: 'Service Deleter', via: 'direct' },
      { name: 'Service Writer', via: 'direct' },
      { name: 'Portal Application User', via: 'team Portal Apps', teamId: team.teamId },
      { name: 'Service Deleter', via: 'team Portal Apps', teamId: team.teamId },
    ]);
    expect(rolesText(a.identity)).toBe(
      'Service Deleter, Service Writer, Portal Application User (via team Portal Apps), Service Deleter (via team Portal Apps)',
    );
  });

  it('a keyvault target holding System Administrator through a team is flagged on the team', () => {
    const team = { teamId: 'ffffffff-0000-4000-8000-000000000006', name: 'Dataverse Administrators' };
    const a = auditTarget(
      base({ kind: 'keyvault', appUser: user({ name: '# api', roles: [{ ...role('System Administrator'), team }] }) }),
      APP,
    );
    expect(a.verdict).toBe('overPrivileged');
    expect(a.findings).toEqual([
      expect.objectContaining({
        kind: 'extraRole',
        table: 'teams',
        recordId: team.teamId,
        name: 'Dataverse Administrators',
        excerpt: "role 'System Administrator' held by # api through team 'Dataverse Administrators'",
      }),
    ]);
    expect(a.findings[0]!.fix).toContain('take # api out of the team');
  });

  it('a keyvault target with no application user is missing and broken', () => {
    const a = auditTarget(base({ kind: 'keyvault' }), APP);
    expect(a.identity.kind).toBe('missing');
    expect(a.verdict).toBe('broken');
  });

  it('an unreadable table is a finding naming the grant, and other findings remain', () => {
    const msg = "could not read workflows: grant prvReadWorkflow (Read on workflow) to certrotate's application user";
    const a = auditTarget(base({ appUser: user(), unreadable: [{ table: 'workflows', message: msg }] }), APP);
    expect(a.findings).toEqual([
      expect.objectContaining({ kind: 'unreadableTable', table: 'workflows', excerpt: msg }),
    ]);
    expect(a.findings[0]!.fix).toBe("grant prvReadWorkflow (Read on workflow) to certrotate's application user");
  });

  it('unreadable systemusers: the identity is unknown (missing) but not called broken', () => {
    const a = auditTarget(
      base({
        systemUserId: null,
        unreadable: [{ table: 'systemusers', message: 'could not read systemusers: grant x' }],
      }),
      APP,
    );
    expect(a.identity.kind).toBe('missing');
    expect(a.verdict).toBe('findings');
  });
});

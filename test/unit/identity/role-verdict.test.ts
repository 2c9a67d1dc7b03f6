import { describe, expect, it } from 'vitest';
import { judgeRoles, POWER_PAGES_PROFILE } from '../../../src/identity/role-verdict.js';

const user = { table: 'systemusers', recordId: 'u1', name: '# Portals-x' };
const role = (name: string, id = name, parentRootRoleId: string | null = null) => ({
  roleid: id,
  name,
  parentRootRoleId,
});
const documented = [role('Portal Application User'), role('Service Deleter'), role('Service Writer')];
const profile = [{ fieldsecurityprofileid: POWER_PAGES_PROFILE.id, name: 'System Administrator' }];

describe('judgeRoles', () => {
  it('is ok for the documented set, whatever the role ids', () => {
    expect(judgeRoles(user, documented, profile)).toEqual({ verdict: 'ok', findings: [] });
  });

  it('matches a renamed business-unit copy by its parent root role, never by role id', () => {
    const roots = new Map([['root-writer', 'Service Writer']]);
    const roles = [documented[0]!, documented[1]!, role('Service Writer (EU)', 'copy-1', 'root-writer')];
    expect(judgeRoles(user, roles, profile, roots).verdict).toBe('ok');
    // The same copy without its root is a missing role plus an extra one.
    const kinds = judgeRoles(user, roles, profile).findings.map((f) => f.kind);
    expect(kinds).toEqual(['missingRole', 'extraRole']);
  });

  it('is overPrivileged with System Administrator, a high finding', () => {
    const r = judgeRoles(user, [...documented, role('System Administrator')], profile);
    expect(r.verdict).toBe('overPrivileged');
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'extraRole', severity: 'high', recordId: 'u1' })]);
    expect(judgeRoles(user, [...documented, role('Basic User')], profile).findings[0]!.severity).toBe('medium');
  });

  it('is broken when a documented role or the profile is missing, even with extra roles', () => {
    const r = judgeRoles(user, [documented[0]!, documented[2]!, role('System Administrator')], []);
    expect(r.verdict).toBe('broken');
    expect(r.findings.map((f) => [f.kind, f.excerpt])).toEqual([
      ['missingRole', "role 'Service Deleter' not assigned"],
      ['missingColumnProfile', "column security profile 'System Administrator' not assigned"],
      ['extraRole', "role 'System Administrator' assigned"],
    ]);
  });

  describe('roles held through teams', () => {
    const team = { teamId: 't1', name: 'Portal Apps' };
    const viaTeam = (r: ReturnType<typeof role>, t = team) => ({ ...r, team: t });

    it('a documented role held only through a team counts, as does a team-held copy by its root role', () => {
      const roles = [viaTeam(role('Portal Application User')), documented[1]!, documented[2]!];
      expect(judgeRoles(user, roles, profile)).toEqual({ verdict: 'ok', findings: [] });
      const roots = new Map([['root-pau', 'Portal Application User']]);
      const copy = viaTeam(role('Portal Application User (EU)', 'copy-9', 'root-pau'));
      expect(judgeRoles(user, [copy, documented[1]!, documented[2]!], profile, roots).verdict).toBe('ok');
    });

    it('the column profile held through a team counts', () => {
      expect(judgeRoles(user, documented, [{ ...profile[0]!, team }]).verdict).toBe('ok');
    });

    it('an extra role through a team is overPrivileged, and the finding names the team to fix', () => {
      const admins = { teamId: 't2', name: 'Dataverse Administrators' };
      const r = judgeRoles(user, [...documented, viaTeam(role('System Administrator'), admins)], profile);
      expect(r.verdict).toBe('overPrivileged');
      expect(r.findings).toEqual([
        {
          severity: 'high',
          kind: 'extraRole',
          table: 'teams',
          recordId: 't2',
          name: 'Dataverse Administrators',
          excerpt: "role 'System Administrator' held by # Portals-x through team 'Dataverse Administrators'",
          fix:
            "remove the security role 'System Administrator' from team 'Dataverse Administrators' (or take # Portals-x " +
            'out of the team): the Power Pages application user holds only Portal Application User, Service Deleter, Service Writer',
        },
      ]);
    });

    it('a role held both directly and through a team is one finding per grant: each is a thing to remove', () => {
      const admin = role('System Administrator');
      const r = judgeRoles(user, [...documented, admin, viaTeam(admin)], profile);
      expect(r.findings.map((f) => [f.table, f.name])).toEqual([
        ['systemusers', '# Portals-x'],
        ['teams', 'Portal Apps'],
      ]);
    });

    it('a documented role only a team used to give, gone with the team, is missing: broken', () => {
      expect(judgeRoles(user, documented.slice(1), profile).verdict).toBe('broken');
    });
  });
});

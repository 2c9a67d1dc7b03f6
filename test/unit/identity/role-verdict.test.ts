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
});

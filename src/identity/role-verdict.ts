/**
 * The roles and column-security profiles of a Power Pages application user against the documented set (reference
 * §0.1, §1b): Portal Application User, Service Deleter, Service Writer and the System Administrator profile. Roles
 * are copied per business unit, so a role counts by its name or by its parent root role's name, never by its id.
 * A role or profile held through a team the user is a member of counts as the user's: a documented one satisfies
 * the set, an extra one makes the user overPrivileged, and its finding names the team to fix.
 */
import type { Finding, RecordRef } from './finding.js';

/** The roles a Power Pages application user holds. */
export const POWER_PAGES_ROLES = ['Portal Application User', 'Service Deleter', 'Service Writer'] as const;
/** Its column-security profile, which has a fixed id. */
export const POWER_PAGES_PROFILE = { name: 'System Administrator', id: '572329c1-a042-4e22-be47-367c6374ea45' };

/** The team a role or profile is held through (`teammembership_association`, then `teamroles_association`). */
export interface TeamRef {
  teamId: string;
  name: string;
}

export interface RoleRow {
  roleid: string;
  name: string;
  /** The root role this one was copied from (itself for a root role). */
  parentRootRoleId?: string | null;
  /** Held through this team, not assigned to the user itself. */
  team?: TeamRef;
}
export interface ProfileRow {
  fieldsecurityprofileid: string;
  name: string;
  /** Held through this team, not assigned to the user itself. */
  team?: TeamRef;
}

/** The finding's record and words for an extra role: the team that gives it, or the user it is assigned to. */
export function extraRoleGrant(user: RecordRef, role: RoleRow): { ref: RecordRef; excerpt: string; from: string } {
  if (!role.team) return { ref: user, excerpt: `role '${role.name}' assigned`, from: '' };
  return {
    ref: { table: 'teams', recordId: role.team.teamId, name: role.team.name },
    excerpt: `role '${role.name}' held by ${user.name ?? 'the application user'} through team '${role.team.name}'`,
    from: ` from team '${role.team.name}' (or take ${user.name ?? 'the application user'} out of the team)`,
  };
}

/** `ok`, `overPrivileged` (an extra role) or `broken` (a documented role or the profile is missing). */
export type RoleVerdict = 'ok' | 'overPrivileged' | 'broken';

const norm = (s: string) => s.trim().toLowerCase();

/**
 * Judges the user's roles; `rootNames` maps a root role id to its name (for renamed business-unit copies).
 * `user` names the record the findings point at.
 */
export function judgeRoles(
  user: RecordRef,
  roles: RoleRow[],
  profiles: ProfileRow[],
  rootNames: Map<string, string> = new Map(),
): { verdict: RoleVerdict; findings: Finding[] } {
  const namesOf = (r: RoleRow) =>
    [r.name, r.parentRootRoleId ? rootNames.get(r.parentRootRoleId.toLowerCase()) : undefined]
      .filter((n): n is string => !!n)
      .map(norm);
  const expected = POWER_PAGES_ROLES.map(norm);
  const findings: Finding[] = [];
  for (const want of POWER_PAGES_ROLES) {
    if (!roles.some((r) => namesOf(r).includes(norm(want)))) {
      findings.push({
        ...user,
        severity: 'high',
        kind: 'missingRole',
        excerpt: `role '${want}' not assigned`,
        fix: `assign the security role '${want}' to ${user.name ?? 'the application user'} (the site needs it to reach Dataverse)`,
      });
    }
  }
  const hasProfile = profiles.some(
    (p) =>
      p.fieldsecurityprofileid.toLowerCase() === POWER_PAGES_PROFILE.id ||
      norm(p.name) === norm(POWER_PAGES_PROFILE.name),
  );
  if (!hasProfile) {
    findings.push({
      ...user,
      severity: 'high',
      kind: 'missingColumnProfile',
      excerpt: `column security profile '${POWER_PAGES_PROFILE.name}' not assigned`,
      fix: `add ${user.name ?? 'the application user'} to the column security profile '${POWER_PAGES_PROFILE.name}'`,
    });
  }
  const broken = findings.length > 0;
  for (const r of roles) {
    if (namesOf(r).some((n) => expected.includes(n))) continue;
    const admin = namesOf(r).includes('system administrator');
    const grant = extraRoleGrant(user, r);
    findings.push({
      ...grant.ref,
      severity: admin ? 'high' : 'medium',
      kind: 'extraRole',
      excerpt: grant.excerpt,
      fix: `remove the security role '${r.name}'${grant.from}: the Power Pages application user holds only ${POWER_PAGES_ROLES.join(', ')}`,
    });
  }
  const verdict: RoleVerdict = broken ? 'broken' : findings.length ? 'overPrivileged' : 'ok';
  return { verdict, findings };
}

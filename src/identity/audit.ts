/**
 * One target's identity audit from what was read (issue 13): which identity the S2S connection uses, its roles and
 * column profiles judged against the documented set, and what depends on SYSTEM. Pure: the reads are
 * src/adapters/azure/dataverse-identity.ts.
 */
import type { Finding } from './finding.js';
import { scanLiquid } from './fetchxml-scan.js';
import { extraRoleGrant, judgeRoles, type ProfileRow, type RoleRow } from './role-verdict.js';
import { workflowFindings, type WorkflowRow } from './workflow-findings.js';

/** What was read for one target (the reader's snapshot, minus transport details). */
export interface AuditInput {
  /** `power-pages` judges the documented Power Pages set; `keyvault` lists the roles and flags System Administrator. */
  kind: 'power-pages' | 'keyvault';
  appUser: {
    systemUserId: string;
    name: string;
    disabled: boolean;
    roles: RoleRow[];
    profiles: ProfileRow[];
  } | null;
  systemUserId: string | null;
  rootRoleNames: Map<string, string>;
  workflows: WorkflowRow[] | null;
  texts: { record: { table: string; recordId: string | null; name: string | null }; text: string }[];
  unreadable: { table: string; message: string }[];
}

/** The identity part of the JSON document. */
export interface IdentityReport {
  kind: 'applicationUser' | 'system' | 'missing';
  systemUserId: string | null;
  name: string | null;
  disabled: boolean | null;
  roles: string[];
  columnProfiles: string[];
  /**
   * An application user's roles with how each is held: `direct`, or `team NAME` through a team membership (additive
   * to formatVersion 1; absent for SYSTEM and a missing user, who hold no role the audit reads).
   */
  roleGrants?: RoleGrant[];
}

/** One role an application user holds, and how. */
export interface RoleGrant {
  name: string;
  /** `direct`, or `team <team name>`. */
  via: string;
  /** The team's id when held through a team. */
  teamId?: string;
}

/** The user's own names as they are, then the names held only through a team. */
const own = <T extends { name: string; team?: unknown }>(rows: T[]) => {
  const names = rows.filter((r) => !r.team).map((r) => r.name);
  for (const r of rows) if (r.team && !names.includes(r.name)) names.push(r.name);
  return names;
};

/** `ok`, `findings` (dependencies on SYSTEM to fix first), `overPrivileged` or `broken`. */
export type IdentityVerdict = 'ok' | 'findings' | 'overPrivileged' | 'broken';

/** One target's result. `evidence` says in a sentence why the identity is what it is (for the human output). */
export interface TargetAudit {
  identity: IdentityReport;
  verdict: IdentityVerdict;
  findings: Finding[];
  evidence: string;
}

/** An identity's roles for people: each held through a team says so (`Portal Application User (via team X)`). */
export function rolesText(identity: IdentityReport | null): string {
  if (!identity) return '';
  if (!identity.roleGrants) return identity.roles.join(', ');
  return identity.roleGrants.map((g) => (g.via === 'direct' ? g.name : `${g.name} (via ${g.via})`)).join(', ');
}

const SEVERITY_ORDER = { high: 0, medium: 1, low: 2 } as const;

/** Judges one target. */
export function auditTarget(input: AuditInput, appId: string): TargetAudit {
  const findings: Finding[] = [];
  let verdict: IdentityVerdict = 'ok';
  let identity: IdentityReport;
  let evidence: string;
  const u = input.appUser;
  const usersUnreadable = input.unreadable.some((t) => t.table === 'systemusers');
  if (u) {
    identity = {
      kind: 'applicationUser',
      systemUserId: u.systemUserId,
      name: u.name,
      disabled: u.disabled,
      // Every role and profile the user holds, its own first; `roleGrants` says which come through a team.
      roles: own(u.roles),
      columnProfiles: own(u.profiles),
      roleGrants: u.roles.map((r) => ({
        name: r.name,
        via: r.team ? `team ${r.team.name}` : 'direct',
        ...(r.team ? { teamId: r.team.teamId } : {}),
      })),
    };
    evidence = `application user '${u.name}' maps app ${appId}`;
    const ref = { table: 'systemusers', recordId: u.systemUserId, name: u.name };
    if (input.kind === 'power-pages') {
      const judged = judgeRoles(ref, u.roles, u.profiles, input.rootRoleNames);
      findings.push(...judged.findings);
      verdict = judged.verdict === 'ok' ? 'ok' : judged.verdict;
    } else {
      // A keyvault target's app may need any role its server uses: only System Administrator is flagged.
      for (const r of u.roles) {
        const names = [r.name, r.parentRootRoleId ? input.rootRoleNames.get(r.parentRootRoleId.toLowerCase()) : ''];
        if (!names.some((n) => n?.trim().toLowerCase() === 'system administrator')) continue;
        const grant = extraRoleGrant(ref, r);
        findings.push({
          ...grant.ref,
          severity: 'high',
          kind: 'extraRole',
          excerpt: grant.excerpt,
          fix: r.team
            ? `give team '${r.team.name}' a role with only the privileges ${u.name}'s server needs instead of '${r.name}', or take ${u.name} out of the team`
            : `give ${u.name} a role with only the privileges its server needs instead of '${r.name}'`,
        });
        verdict = 'overPrivileged';
      }
    }
    if (u.disabled) {
      findings.push({
        ...ref,
        severity: 'high',
        kind: 'disabledUser',
        excerpt: `application user '${u.name}' is disabled`,
        fix: `enable ${u.name} (Power Platform admin center → Application users), or the connection is refused`,
      });
      verdict = 'broken';
    }
  } else if (input.kind === 'power-pages' && !usersUnreadable && input.systemUserId) {
    identity = {
      kind: 'system',
      systemUserId: input.systemUserId,
      name: 'SYSTEM',
      disabled: null,
      roles: [],
      columnProfiles: [],
    };
    evidence =
      `no application user maps app ${appId}: the site reaches Dataverse as SYSTEM (legacy); ` +
      'if it was moved to an application user, that user is missing and the site is broken';
  } else {
    identity = { kind: 'missing', systemUserId: null, name: null, disabled: null, roles: [], columnProfiles: [] };
    evidence = usersUnreadable
      ? 'the identity could not be read (systemusers unreadable)'
      : `no application user maps app ${appId}: the connection is refused (add it in the Power Platform admin center)`;
    if (!usersUnreadable) verdict = 'broken';
  }

  if (input.kind === 'power-pages') {
    for (const t of input.texts) findings.push(...scanLiquid(t.text, t.record, input.systemUserId ?? ''));
    // SYSTEM's workflows are the environment's, not one site's: they are a dependency of a site still on SYSTEM.
    if (identity.kind === 'system' && input.workflows && input.systemUserId) {
      findings.push(...workflowFindings(input.workflows, input.systemUserId));
    }
  }
  for (const t of input.unreadable) {
    findings.push({
      severity: 'high',
      kind: 'unreadableTable',
      table: t.table,
      recordId: null,
      name: null,
      excerpt: t.message,
      fix: t.message.replace(/^could not read [^:]+: /, ''),
    });
  }
  if (verdict === 'ok' && findings.length > 0) verdict = 'findings';
  findings.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return { identity, verdict, findings, evidence };
}

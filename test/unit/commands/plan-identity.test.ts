import { describe, expect, it } from 'vitest';
import { identityLine } from '../../../src/commands/plan.js';
import { identitySummary } from '../../../src/commands/identity-line.js';
import type { IdentityTargetRow } from '../../../src/commands/identity.js';

const finding = (kind: IdentityTargetRow['findings'][number]['kind'], excerpt = '') => ({
  severity: 'high' as const,
  kind,
  table: 'workflows',
  recordId: null,
  name: null,
  excerpt,
  fix: '',
});
const row = (over: Partial<IdentityTargetRow>): IdentityTargetRow => ({
  name: 'contoso-portal',
  environmentId: null,
  identity: { kind: 'system', systemUserId: 'id', name: 'SYSTEM', disabled: null, roles: [], columnProfiles: [] },
  verdict: 'findings',
  findings: [],
  ...over,
});

describe('identityLine (the identity verdict under a power-pages plan)', () => {
  it('names the legacy identity, counts the findings and gives the command to run', () => {
    const findings = Array.from({ length: 5 }, () => finding('workflowOwnedBySystem'));
    expect(identityLine('contoso-portal', row({ findings }))).toBe(
      'Identity: SYSTEM (legacy) — 5 findings; run `certrotate identity contoso-portal`',
    );
    expect(identityLine('contoso-portal', row({ findings: findings.slice(0, 1) }), 'other.yaml')).toBe(
      'Identity: SYSTEM (legacy) — 1 finding; run `certrotate identity contoso-portal --config other.yaml`',
    );
  });

  it('an application user with the documented set is ok; a broken one without findings says so', () => {
    const appUser = { kind: 'applicationUser' as const, systemUserId: 'u', name: '# Portals-x', disabled: false };
    expect(identityLine('x', row({ identity: { ...appUser, roles: [], columnProfiles: [] }, verdict: 'ok' }))).toBe(
      "Identity: application user '# Portals-x' — ok",
    );
    const missing = { ...appUser, kind: 'missing' as const, name: null, disabled: null, roles: [], columnProfiles: [] };
    expect(identityLine('x', row({ identity: missing, verdict: 'broken' }))).toBe(
      'Identity: no application user — broken; run `certrotate identity x`',
    );
  });

  it('a table it could not read is said beside the count', () => {
    const findings = [finding('unreadableTable', 'could not read workflows: grant prvReadWorkflow')];
    expect(identityLine('x', row({ findings }))).toBe(
      'Identity: SYSTEM (legacy) — 1 finding (partly read: could not read workflows: grant prvReadWorkflow); ' +
        'run `certrotate identity x`',
    );
  });

  it('a failed read is "not checked" with the reason', () => {
    expect(identityLine('x', row({ identity: null, verdict: null, error: 'Dataverse refused: 403' }))).toBe(
      'identity: not checked (Dataverse refused: 403)',
    );
    const unread = { ...finding('unreadableTable', 'could not read systemusers: grant Read'), table: 'systemusers' };
    const missing = { kind: 'missing' as const, systemUserId: null, name: null, disabled: null, roles: [] };
    expect(
      identityLine('x', row({ identity: { ...missing, columnProfiles: [] }, verdict: 'findings', findings: [unread] })),
    ).toBe('identity: not checked (could not read systemusers: grant Read)');
  });
});

describe('identitySummary (the identity field of plan --json)', () => {
  it('carries the verdict, kind, name and the count of findings', () => {
    const findings = [finding('workflowOwnedBySystem'), finding('fetchxmlSystemFilter')];
    expect(identitySummary(row({ findings }))).toEqual({
      verdict: 'findings',
      kind: 'system',
      name: 'SYSTEM',
      findings: 2,
    });
    const appUser = { kind: 'applicationUser' as const, systemUserId: 'u', name: '# Portals-x', disabled: false };
    expect(identitySummary(row({ identity: { ...appUser, roles: [], columnProfiles: [] }, verdict: 'ok' }))).toEqual({
      verdict: 'ok',
      kind: 'applicationUser',
      name: '# Portals-x',
      findings: 0,
    });
  });

  it('is "not checked" (null verdict and kind, the reason in error) exactly where the line says so', () => {
    expect(identitySummary(row({ identity: null, verdict: null, error: 'Dataverse refused: 403' }))).toEqual({
      verdict: null,
      kind: null,
      name: null,
      findings: 0,
      error: 'Dataverse refused: 403',
    });
    const unread = { ...finding('unreadableTable', 'could not read systemusers: grant Read'), table: 'systemusers' };
    const missing = { kind: 'missing' as const, systemUserId: null, name: null, disabled: null, roles: [] };
    const r = row({ identity: { ...missing, columnProfiles: [] }, verdict: 'findings', findings: [unread] });
    expect(identitySummary(r)).toEqual({
      verdict: null,
      kind: null,
      name: null,
      findings: 1,
      error: 'could not read systemusers: grant Read',
    });
    expect(identityLine('x', r)).toBe('identity: not checked (could not read systemusers: grant Read)');
  });
});

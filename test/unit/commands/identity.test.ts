import { describe, expect, it } from 'vitest';
import { identityExitCode, type IdentityTargetRow } from '../../../src/commands/identity.js';
import { deniedMessage } from '../../../src/adapters/azure/dataverse-identity.js';

const row = (over: Partial<IdentityTargetRow>): IdentityTargetRow => ({
  name: 't',
  environmentId: null,
  identity: null,
  verdict: 'ok',
  findings: [],
  ...over,
});
const finding = (kind: IdentityTargetRow['findings'][number]['kind']) => ({
  severity: 'high' as const,
  kind,
  table: 'x',
  recordId: null,
  name: null,
  excerpt: '',
  fix: '',
});

describe('identityExitCode', () => {
  it('0 clean, 2 with --detailed-exitcode on findings, 1 on broken, unreadable or error', () => {
    expect(identityExitCode([row({})], true)).toBe(0);
    expect(identityExitCode([row({ verdict: 'findings', findings: [finding('workflowOwnedBySystem')] })], false)).toBe(
      0,
    );
    expect(identityExitCode([row({ verdict: 'findings', findings: [finding('workflowOwnedBySystem')] })], true)).toBe(
      2,
    );
    expect(identityExitCode([row({ verdict: 'broken', findings: [finding('missingRole')] })], true)).toBe(1);
    expect(identityExitCode([row({ verdict: 'findings', findings: [finding('unreadableTable')] })], false)).toBe(1);
    expect(identityExitCode([row({ verdict: null, error: 'boom' })], false)).toBe(1);
  });
});

describe('deniedMessage', () => {
  it('names the privilege from a 0x80040220 message, else Read on the table', () => {
    const msg =
      "Principal user (Id=1, type=8, roleCount=1, privilegeCount=412, accessMode=4), is missing prvReadWorkflow privilege (Id=2) on OTC=4703 for entity 'workflow'. context.Caller=1";
    expect(deniedMessage('workflows', msg)).toBe(
      "could not read workflows: grant prvReadWorkflow (Read on workflow) to certrotate's application user",
    );
    expect(deniedMessage('roles', undefined)).toBe(
      "could not read roles: grant Read on roles to certrotate's application user",
    );
  });
});

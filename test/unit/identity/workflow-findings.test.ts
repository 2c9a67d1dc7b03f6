import { describe, expect, it } from 'vitest';
import { workflowFindings } from '../../../src/identity/workflow-findings.js';

const SYS = 'aaaaaaaa-0000-0000-0000-000000000001';
const wf = (workflowid: string, name: string, mode: number, statecode = 1, owner = SYS, type = 1) => ({
  workflowid,
  name,
  category: 0,
  mode,
  statecode,
  type,
  _ownerid_value: owner,
});

describe('workflowFindings', () => {
  it('lists SYSTEM-owned definitions, real-time first, with category, mode and state', () => {
    const rows = [
      wf('b', 'Background one', 0, 0),
      wf('r', 'Real-time one', 1),
      wf('a', 'Activation row', 1, 1, SYS, 2),
      wf('o', 'Owned by someone else', 1, 1, 'bbbbbbbb-0000-0000-0000-000000000002'),
    ];
    const found = workflowFindings(rows, `{${SYS.toUpperCase()}}`);
    expect(found.map((f) => [f.recordId, f.severity, f.excerpt])).toEqual([
      ['r', 'high', 'Workflow, Real-time, Activated, owner SYSTEM'],
      ['b', 'medium', 'Workflow, Background, Draft, owner SYSTEM'],
    ]);
    expect(found[0]).toMatchObject({
      kind: 'workflowOwnedBySystem',
      table: 'workflows',
      fix: 'assign the workflow to the application user or a team',
    });
  });
});

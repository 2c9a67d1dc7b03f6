/**
 * Workflows owned by SYSTEM (reference §1c): with `runas` owner and user scope they run with SYSTEM's privileges and
 * fire for SYSTEM's records only, so they change meaning when the site leaves SYSTEM. Real-time ones first.
 */
import type { Finding } from './finding.js';

export interface WorkflowRow {
  workflowid: string;
  name: string;
  category: number;
  mode: number;
  statecode: number;
  type?: number;
  _ownerid_value: string | null;
}

const CATEGORY = ['Workflow', 'Dialog', 'Business Rule', 'Action', 'BPF', 'Modern Flow', 'Desktop Flow', 'AI Flow'];
const STATE = ['Draft', 'Activated', 'Suspended'];

/** The findings for the workflow definitions owned by `systemUserId`, real-time first. */
export function workflowFindings(rows: WorkflowRow[], systemUserId: string): Finding[] {
  const sys = systemUserId.replace(/[{}]/g, '').toLowerCase();
  return rows
    .filter((w) => (w.type ?? 1) === 1 && w._ownerid_value?.toLowerCase() === sys)
    .sort((a, b) => b.mode - a.mode || a.name.localeCompare(b.name))
    .map((w) => ({
      severity: w.mode === 1 && w.statecode === 1 ? 'high' : 'medium',
      kind: 'workflowOwnedBySystem' as const,
      table: 'workflows',
      recordId: w.workflowid,
      name: w.name,
      excerpt: `${CATEGORY[w.category] ?? `category ${w.category}`}, ${w.mode === 1 ? 'Real-time' : 'Background'}, ${STATE[w.statecode] ?? `state ${w.statecode}`}, owner SYSTEM`,
      fix: 'assign the workflow to the application user or a team',
    }));
}

import { FileRunStore } from '../runs/file-run-store.js';
import type { CommandContext } from './context.js';

/** `runs`: every run in the state directory, newest first. */
export async function runsCommand(ctx: CommandContext): Promise<number> {
  const { stateDir } = await ctx.config();
  const runs = await new FileRunStore(stateDir).listRuns();
  ctx.print({ formatVersion: 1, runs }, () => {
    if (runs.length === 0) return `No runs yet in ${stateDir}.`;
    const rows = [['RUN', 'TARGET', 'OUTCOME', 'STATE', 'STARTED', 'UPDATED']];
    for (const r of runs) {
      rows.push([r.runId, r.target, r.outcome ?? '(unfinished)', r.state, r.startedAt, r.updatedAt]);
    }
    return table(rows);
  });
  return 0;
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

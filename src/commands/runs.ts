import { openStateBackend } from '../adapters/state/index.js';
import { blocksTarget } from '../adapters/state/open-runs.js';
import { UNKNOWN_TARGET } from '../adapters/state/run-format.js';
import type { CommandContext } from './context.js';

/** Filters of `runs`. */
export interface RunsFilter {
  /** Only the runs of this target (`--target`). */
  target?: string;
  /** Only the runs that block a new rotation of their target: unfinished, parked or corrupt (`--open`). */
  open?: boolean;
}

/**
 * `runs`: every run in the state backend, newest first; a run whose state cannot be read is listed as corrupt.
 * `--target` and `--open` narrow the list (a corrupt run whose target is unknown counts as every target's).
 */
export async function runsCommand(ctx: CommandContext, filter: RunsFilter = {}): Promise<number> {
  const { config } = await ctx.config();
  const { store, location } = openStateBackend(config);
  const runs = (await store.listRuns()).filter(
    (r) =>
      (filter.target === undefined || r.target === filter.target || r.target === UNKNOWN_TARGET) &&
      (!filter.open || blocksTarget(r, r.target)),
  );
  ctx.print({ formatVersion: 1, runs }, () => {
    if (runs.length === 0) {
      const which = [filter.open ? 'open ' : '', filter.target ? `of ${filter.target} ` : ''].join('');
      return which ? `No ${which}runs in ${location}.` : `No runs yet in ${location}.`;
    }
    const rows = [['RUN', 'TARGET', 'OUTCOME', 'STATE', 'STARTED', 'UPDATED']];
    for (const r of runs) {
      rows.push([r.runId, r.target, r.outcome ?? '(unfinished)', r.state, r.startedAt, r.updatedAt]);
    }
    const corrupt = runs.filter((r) => r.error !== undefined);
    // Loud, not skipped: a corrupt run blocks its target until a person has looked at it (its journal still shows
    // what it did).
    const notes = corrupt.map(
      (r) => `\nRun ${r.runId} is corrupt: ${r.error}\n  its journal: \`certrotate show ${r.runId}\``,
    );
    return table(rows) + notes.join('');
  });
  return 0;
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

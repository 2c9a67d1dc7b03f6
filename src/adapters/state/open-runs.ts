/**
 * Which stored runs keep a new rotation of a target from starting (rotate's open-run guard, exit 4): one that is
 * unfinished or parked, and one whose state cannot be read — nobody knows what a corrupt run changed, so the guard
 * fails closed, never open.
 */
import type { RunStore, RunSummary } from '../ports.js';
import { CORRUPT, UNKNOWN_TARGET } from './run-format.js';
import { stateInWords } from '../../machines/steps.js';

/** Outcomes of a run that has stopped without ending: it still owns what it added. */
const PARKED = new Set(['awaitingOperator', 'awaitingRetirement']);

/**
 * Whether `run` blocks a new rotation of `target`: a run of that target that is unfinished (`outcome` null), parked,
 * or corrupt. A corrupt run whose target cannot be told (no journal, a run id certrotate did not make) blocks every
 * target: better a refused rotation than a second one beside an unknown first.
 */
export function blocksTarget(run: RunSummary, target: string): boolean {
  if (run.outcome === CORRUPT) return run.target === target || run.target === UNKNOWN_TARGET;
  return run.target === target && (run.outcome === null || PARKED.has(run.outcome));
}

/** The newest run in `store` that blocks a new rotation of `target` ({@link blocksTarget}), or undefined. */
export async function findBlockingRun(store: RunStore, target: string): Promise<RunSummary | undefined> {
  return (await store.listRuns()).find((run) => blocksTarget(run, target));
}

/**
 * Why `run` blocks `target`, and what to do, for the exit-4 message: continue or withdraw an unfinished run; look at
 * a corrupt one through its journal, then repair or remove its snapshot.
 */
export function blockingRunMessage(run: RunSummary, target: string): string {
  if (run.outcome === CORRUPT) {
    return (
      `target "${target}" has run ${run.runId} whose state cannot be read (${run.error ?? 'corrupt snapshot'}); ` +
      `what it did is in its journal: \`certrotate show ${run.runId}\`; finish or undo that by hand, then repair ` +
      'or remove its snapshot before rotating again'
    );
  }
  // Only a parked run can be rolled back (resume refuses to roll back an interrupted one), so only then offer it.
  const withdraw = run.outcome === null ? '' : ` or withdraw it with \`certrotate rollback ${run.runId}\``;
  return (
    `target "${target}" has an unfinished run ${run.runId} (${run.outcome ?? `interrupted during ${stateInWords(run.state)}`}); ` +
    `continue it with \`certrotate resume ${run.runId}\`${withdraw}`
  );
}

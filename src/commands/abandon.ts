/**
 * `abandon RUN_ID`: closes a run that changed nothing — stopped at its first question (Ctrl-C), declined before any
 * change, or parked for a Power Pages Update key nobody pressed — so it no longer blocks its target (exit 4). The
 * run ends `abandoned`, journaled with who closed it. A run that changed anything is refused (exit 1) with what it
 * changed and the command that deals with it (rollback or resume).
 */
import { openStateBackend } from '../adapters/state/index.js';
import { assertRunId } from '../adapters/state/run-format.js';
import { UsageError } from '../errors.js';
import { abandonRun } from '../runs/runner.js';
import { findTarget } from '../runs/target-input.js';
import type { CommandContext } from './context.js';
import { invocationOf, reportRun, runnerDeps } from './run-support.js';

/** `abandon RUN_ID`: the run's document (outcome `abandoned`), exit 0; refusals throw (exit 1, or 4 when locked). */
export async function abandonCommand(ctx: CommandContext, runId: string): Promise<number> {
  try {
    assertRunId(runId);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const loaded = await ctx.config();
  const envelope = await openStateBackend(loaded.config).store.loadSnapshot(runId);
  if (!envelope) {
    throw new UsageError(`run "${runId}" not found in ${loaded.stateDir}; \`certrotate runs\` lists the runs there`);
  }
  const target = findTarget(loaded.config, envelope.target);
  // Closing changes nothing in the world, so there is nothing to confirm: no --yes needed, no question asked.
  const deps = await runnerDeps(ctx, target);
  const doc = await abandonRun(deps, runId, {
    invocation: invocationOf('abandon', ctx.options.yes ? 'yes' : 'guided'),
  });
  return reportRun(ctx, doc, deps.store);
}

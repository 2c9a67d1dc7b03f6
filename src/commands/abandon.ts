/**
 * `abandon RUN_ID`: closes a run that changed nothing — stopped at its first question (Ctrl-C), declined before any
 * change, or parked for a Power Pages Update key nobody pressed — so it no longer blocks its target (exit 4). The
 * run ends `abandoned`, journaled with who closed it. A run that changed anything is refused (exit 1) with what it
 * changed and the command that deals with it (rollback or resume).
 */
import { abandonRun } from '../runs/runner.js';
import type { CommandContext } from './context.js';
import { invocationOf, loadStoredRun, reportRun, runnerDeps } from './run-support.js';

/** `abandon RUN_ID`: the run's document (outcome `abandoned`), exit 0; refusals throw (exit 1, or 4 when locked). */
export async function abandonCommand(ctx: CommandContext, runId: string): Promise<number> {
  const { target } = await loadStoredRun(ctx, runId);
  // Closing changes nothing in the world, so there is nothing to confirm: no --yes needed, no question asked.
  const deps = await runnerDeps(ctx, target);
  const doc = await abandonRun(deps, runId, {
    invocation: invocationOf('abandon', ctx.options.yes ? 'yes' : 'guided'),
  });
  return reportRun(ctx, doc, deps.store);
}

/**
 * When a run may be closed without undoing anything (`certrotate abandon RUN_ID`, and `rollback` of a run with
 * nothing to undo): it changed nothing in the world and stands still where nothing it does can have changed anything
 * unseen. Shared by the machine's ABANDON guard and by the runner, which explains a refusal before it drives anything.
 *
 * Pure: reads a state name and the context's progress, no I/O.
 */
import type { RotationContext } from './rotation-types.js';

/**
 * The states a run can be abandoned from (with nothing changed): preflight and the wait for the platform's key only
 * read; `generating.confirming` waits before the first change; `awaitingOperator` is a park. Every other state is a
 * mutating step at work or retrying (its effect may have landed unseen: `resume` observes and finishes it) or comes
 * after a change.
 */
export const ABANDONABLE_STATES = ['preflight', 'generating.confirming', 'detectingPlatformKey', 'awaitingOperator'];

/** What a run has changed, for the refusal: the facts rollback or resume would deal with. */
export function changesOf(context: Pick<RotationContext, 'progress' | 'operation'>): string[] {
  const p = context.progress;
  return [
    ...(p.generated || context.operation !== undefined ? ['created a Key Vault version'] : []),
    ...(p.attached ? ['added a key to the app'] : []),
    ...(p.installed ? ['put the new key on the server'] : []),
  ];
}

/** True when the run changed nothing: no version created (or requested), no key attached, nothing installed. */
export function changedNothing(context: Pick<RotationContext, 'progress' | 'operation'>): boolean {
  return changesOf(context).length === 0;
}

/** True when `state` (flattened, `generating.confirming`) is at or below one of {@link ABANDONABLE_STATES}. */
export function atAbandonableStandstill(state: string): boolean {
  return ABANDONABLE_STATES.some((s) => state === s || state.startsWith(`${s}.`));
}

/**
 * Why the run in `state` may not be abandoned, as a sentence naming what to do instead; undefined when it may.
 * `runId` and `kind` word the advice (power-pages runs cannot roll back).
 */
export function abandonRefusal(
  state: string,
  context: Pick<RotationContext, 'progress' | 'operation'> & { settings: { runId: string; kind: string } },
): string | undefined {
  const runId = context.settings.runId;
  const changes = changesOf(context);
  if (changes.length > 0) {
    const undo =
      context.settings.kind === 'power-pages'
        ? `\`certrotate resume ${runId}\` finishes it`
        : `\`certrotate rollback ${runId}\` undoes it, \`certrotate resume ${runId}\` finishes it`;
    return (
      `run ${runId} already changed the target (it ${changes.join(', ')}); abandoning it would leave that ` +
      `unaccounted for: ${undo}`
    );
  }
  if (!atAbandonableStandstill(state)) {
    return (
      `run ${runId} stopped in ${state}, a step that may have changed the target without recording it; ` +
      `\`certrotate resume ${runId}\` finishes that step (it observes first)`
    );
  }
  return undefined;
}

import { styleText } from 'node:util';
import { ExitCode } from '../exit-codes.js';
import { buildTimeline, formatDuration, timelineText, type TimelinePaint } from '../report/run-timeline.js';
import { openStateBackend } from '../adapters/state/index.js';
import { assertRunId, CORRUPT, RunStoreError } from '../adapters/state/run-format.js';
import { journalLineText, type JournalLine } from '../runs/observers/journal.js';
import { describeRun } from '../runs/run-view.js';
import { UsageError, type CommandContext } from './context.js';

/** Colours for the timeline: only when stdout is a terminal that takes them and `--no-color` is not set. */
function paintFor(ctx: CommandContext): TimelinePaint | undefined {
  if (!ctx.options.color || ctx.env.NO_COLOR) return undefined;
  const style = (format: Parameters<typeof styleText>[0]) => (text: string) =>
    styleText(format, text, { stream: process.stdout });
  return {
    working: style('green'),
    failed: style('red'),
    waiting: style('yellow'),
    dim: style('dim'),
    bold: style('bold'),
  };
}

/** `show RUN_ID`: one run's timeline drawn from its journal, then the journal itself; `--json` is the journal. */
export async function showCommand(ctx: CommandContext, runId: string): Promise<number> {
  try {
    assertRunId(runId);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { stateDir } = await ctx.config();
  const { store } = openStateBackend((await ctx.config()).config);
  // A corrupt snapshot does not hide the run (issue 16, defect 5): the journal still tells what it did.
  let corrupt: string | undefined;
  const [envelope, entries] = await Promise.all([
    store.loadSnapshot(runId).catch((err: unknown) => {
      if (!(err instanceof RunStoreError)) throw err;
      corrupt = err.message;
      return undefined;
    }),
    store.readJournal(runId),
  ]);
  // Lines of this version carry structured fields; older ones only the entry's own (facts in `detail` text).
  const journal: JournalLine[] = entries;
  if (!envelope && journal.length === 0) {
    throw new UsageError(`run "${runId}" not found in ${stateDir}; \`certrotate runs\` lists the runs there`);
  }
  const run = envelope ? describeRun(envelope) : undefined;
  const summary = run
    ? { state: run.state, outcome: run.outcome }
    : corrupt
      ? { state: CORRUPT, outcome: CORRUPT, error: corrupt }
      : { state: 'unknown', outcome: null };
  const target = envelope?.target ?? journal[0]?.target ?? 'unknown';
  ctx.print({ formatVersion: 1, runId, target, ...summary, updatedAt: envelope?.updatedAt ?? null, journal }, () => {
    const lines = [`Run ${runId} — target ${target} — ${summary.outcome ?? `unfinished (${summary.state})`}`];
    if (corrupt) lines.push(`  Its snapshot is corrupt (${corrupt}); shown from its journal.`);
    if (journal.length) {
      const timeline = buildTimeline(journal);
      const by = journal.find((e) => e.actor)?.actor;
      lines.push(
        `  ${new Date(timeline.start).toISOString()} to ${new Date(timeline.end).toISOString()}, ` +
          `${formatDuration(timeline.end - timeline.start)}${by ? `, run by ${by}` : ''}`,
        '',
        ...timelineText(timeline, { paint: paintFor(ctx) }).map((l) => `  ${l}`),
        '',
        '  Journal:',
      );
    }
    for (const e of journal) {
      const thumbs = [e.oldThumbprint && `old ${e.oldThumbprint}`, e.newThumbprint && `new ${e.newThumbprint}`]
        .filter(Boolean)
        .join(', ');
      const extra = [journalLineText(e), thumbs].filter(Boolean).join(' — ');
      lines.push(`  ${e.time}  ${e.step.padEnd(24)} ${e.event.padEnd(10)}${extra ? ` ${extra}` : ''}`);
    }
    return lines.join('\n');
  });
  return ExitCode.ok;
}

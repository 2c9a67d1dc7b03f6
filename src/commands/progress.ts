/**
 * Progress for people: lines on stderr as the run's events happen (stdout stays free for `--json`), and a closing
 * summary. Pipelines get the same lines as plain text; colour only on a TTY.
 */
import type { RunEvent, RunObserver } from '../runs/events.js';
import type { RunDocument } from '../runs/runner.js';
import { withConfigOption } from '../next-step.js';
import { shownStatus, stepMs, stoppedAt, type StepTimes } from './guided-text.js';

/**
 * `text` cut to `max` characters with `...`, never inside a backticked command: a command cut in half is one nobody
 * can run, so the cut moves before its opening backtick (the whole message is in the summary and the journal).
 */
export function clip(text: string, max = 160): string {
  if (text.length <= max) return text;
  let cut = max - 3;
  for (const m of text.matchAll(/`[^`\n]*`/g)) {
    const start = m.index;
    if (start < cut && cut < start + m[0].length) cut = start;
  }
  return `${text.slice(0, cut)}...`;
}

function suffix(text: string | undefined): string {
  return text ? ` — ${clip(text)}` : '';
}

/**
 * Turns run events into progress lines: one `→ started` and one `✓ succeeded` (or `✗ failed`) per step, a `↻` per
 * retry with its wait and cause, the first "not yet" of a step with what it waits for, answers, parks and the outcome.
 * A further look or attempt of the same step adds no line: the step is still the one on screen.
 */
export class ProgressLines {
  private waitingShown = new Set<string>();

  /** `configOption`: the global `--config` of this invocation, which every command a line offers carries. */
  constructor(private readonly configOption?: string) {}

  /** The line for one event, or undefined for events people need not see live. */
  line(event: RunEvent): string | undefined {
    const line = this.text(event);
    return line === undefined ? undefined : withConfigOption(line, this.configOption);
  }

  private text(event: RunEvent): string | undefined {
    switch (event.type) {
      case 'stepStarted':
        this.waitingShown.delete(event.step);
        return `→ ${event.step} started${event.rerun ? ' — re-run after restore' : ''}`;
      case 'attemptStarted':
        // A new attempt after a retry wait may wait again (the read-lag window): that is news.
        if (event.after === 'retrying') this.waitingShown.delete(event.step);
        return undefined;
      case 'retrying':
        return `↻ ${event.step} retrying — attempt ${event.attempt} in ${event.waitMs} ms after ${event.code}`;
      case 'waiting': {
        if (this.waitingShown.has(event.step) && !event.inStep) return undefined;
        this.waitingShown.add(event.step);
        const until = event.until !== undefined ? ` until ${new Date(event.until).toISOString()}` : '';
        return `… ${event.step} waiting — for ${event.for}${until}`;
      }
      case 'stepDone':
        return `✓ ${event.step} ${event.skipped ? 'succeeded — already done' : 'succeeded'}${event.attempts > 1 ? ` (${event.attempts} attempts)` : ''}`;
      case 'stepFailed':
        return `✗ ${event.step} failed${suffix(`${event.error.code}: ${event.error.message}`)}`;
      case 'confirmed':
        // `--yes` (or a plan) answered: the journal records it; the terminal shows the steps themselves.
        return event.by === 'operator' ? `✓ ${event.step} confirmed${suffix(event.summary)}` : undefined;
      case 'declined':
        return `✗ ${event.step} declined${suffix(event.summary)}`;
      case 'parked':
        return `⏸ ${event.state} parked${suffix(event.message)}`;
      case 'interrupted':
        return `■ ${event.step ?? 'run'} interrupted — ${event.why ?? 'stopped at the operator’s request'}; resumable`;
      case 'ended':
        return `■ run ${event.runId} ${event.outcome}${suffix(endedDetail(event))}`;
      default:
        // A run's start or resume, a question, another attempt or look of the step on screen.
        return undefined;
    }
  }
}

/**
 * What the closing line says after the outcome: the failure's code and message, without the words the outcome already
 * said — a superseded run's code is `superseded` and its message starts "superseded:", which would read
 * "superseded — superseded: superseded: …".
 */
function endedDetail(event: Extract<RunEvent, { type: 'ended' }>): string | undefined {
  if (!event.failure) return undefined;
  let text = `${event.failure.code}: ${event.failure.message}`;
  const said = `${event.outcome}: `;
  while (text.startsWith(said)) text = text.slice(said.length);
  return text;
}

/**
 * Progress lines written to a stream (stderr by default), as a run observer; `configOption` is the `--config` in
 * use, added to every command a line offers (a parked run's `certrotate resume …`).
 */
export function progressWriter(stream: NodeJS.WritableStream = process.stderr, configOption?: string): RunObserver {
  const lines = new ProgressLines(configOption);
  return {
    onEvent(event) {
      const line = lines.line(event);
      if (line) stream.write(`${line}\n`);
    },
  };
}

function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}

/** The human summary of a rotate/resume/rollback result; `times` as `show` counts them, when known. */
export function runSummary(doc: RunDocument, times?: StepTimes): string {
  const lines = [
    `Run ${doc.runId} — target ${doc.target} — ${doc.outcome ?? `interrupted ${stoppedAt(doc)}`}`,
    `  old key: ${doc.oldThumbprint ?? '(none)'}`,
    `  new key: ${doc.newThumbprint ?? '(none)'}`,
  ];
  if (doc.steps.length) {
    lines.push('  steps:');
    for (const s of doc.steps) {
      const attempts = s.attempts > 1 ? `, ${s.attempts} attempts` : '';
      lines.push(`    ${s.name.padEnd(22)} ${shownStatus(doc, s).padEnd(10)} ${duration(stepMs(s, times))}${attempts}`);
    }
  }
  if (doc.message) lines.push(`  ${doc.message}`);
  if (doc.next) lines.push(`  next: ${doc.next}`);
  return lines.join('\n');
}

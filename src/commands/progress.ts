/**
 * Progress for people: one line on stderr per journal event as it happens (stdout stays free for `--json`), and a
 * closing summary. Pipelines get the same lines as plain text; colour only on a TTY.
 */
import type { JournalEntry } from '../adapters/ports.js';
import type { RunDocument } from '../runs/runner.js';

const MARK: Record<string, string> = {
  started: '→',
  succeeded: '✓',
  failed: '✗',
  retrying: '↻',
  parked: '⏸',
  confirmed: '✓',
  declined: '✗',
  interrupted: '■',
  resumed: '▶',
};

function detailText(detail: JournalEntry['detail']): string {
  if (detail === undefined) return '';
  if (typeof detail === 'string') return detail;
  return `${detail.code ? `${detail.code}: ` : ''}${detail.message}`;
}

function detailSuffix(detail: JournalEntry['detail']): string {
  const text = detailText(detail);
  return text ? ` — ${text}` : '';
}

/** A journal line as one progress line, or undefined for lines people need not see live. */
export function progressLine(entry: JournalEntry): string | undefined {
  if (entry.step === 'run') return `▶ run ${entry.runId} ${entry.event}${detailSuffix(entry.detail)}`;
  // The machine's last line names its final state; say it as the run's outcome.
  if (entry.step === entry.event) return `■ run ${entry.runId} ${entry.event}${detailSuffix(entry.detail)}`;
  const mark = MARK[entry.event] ?? '•';
  let detail = detailText(entry.detail);
  // Step results are JSON for the journal; live, the thumbprints say enough.
  if (entry.event === 'succeeded' && detail.startsWith('{')) detail = '';
  if (detail.length > 160) detail = `${detail.slice(0, 157)}...`;
  return `${mark} ${entry.step} ${entry.event}${detail ? ` — ${detail}` : ''}`;
}

/** A writer of progress lines to a stream (stderr by default). */
export function progressWriter(stream: NodeJS.WritableStream = process.stderr): (entry: JournalEntry) => void {
  return (entry) => {
    const line = progressLine(entry);
    if (line) stream.write(`${line}\n`);
  };
}

function duration(startedAt: string, endedAt?: string): string {
  if (!endedAt) return '';
  const ms = Date.parse(endedAt) - Date.parse(startedAt);
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}

/** The human summary of a rotate/resume/rollback result. */
export function runSummary(doc: RunDocument): string {
  const lines = [
    `Run ${doc.runId} — target ${doc.target} — ${doc.outcome ?? `interrupted in ${doc.state}`}`,
    `  old key: ${doc.oldThumbprint ?? '(none)'}`,
    `  new key: ${doc.newThumbprint ?? '(none)'}`,
  ];
  if (doc.steps.length) {
    lines.push('  steps:');
    for (const s of doc.steps) {
      const attempts = s.attempts > 1 ? `, ${s.attempts} attempts` : '';
      lines.push(`    ${s.name.padEnd(22)} ${s.status.padEnd(10)} ${duration(s.startedAt, s.endedAt)}${attempts}`);
    }
  }
  if (doc.message) lines.push(`  ${doc.message}`);
  if (doc.next) lines.push(`  next: ${doc.next}`);
  return lines.join('\n');
}

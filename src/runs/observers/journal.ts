/**
 * The journal observer: turns run events into the append-only audit journal, one structured JSON line per fact
 * (attempts, waits, codes and results as fields, never as sentences to be parsed back), and renders a line as text
 * for `show`, old text-form lines included.
 */
import type { JournalEntry } from '../../adapters/ports.js';
import { scrubString, scrubValue } from '../../logging/scrub.js';
import type { Invocation, RunEvent, RunObserver } from '../events.js';

/**
 * One journal line as certrotate writes it: the port's {@link JournalEntry} plus structured fields. Every field but
 * the entry's own is optional, so lines written by older versions (facts in `detail` text) still read.
 */
export interface JournalLine extends JournalEntry {
  /** started/failed/retrying: the attempt the line is about (1-based). */
  attempt?: number;
  /** succeeded: attempts the step took. */
  attempts?: number;
  /** started: after what this attempt runs (a retry wait, or a "not yet" wait). */
  after?: 'retrying' | 'waiting';
  /** started: the step was in flight when the previous process stopped. */
  rerun?: boolean;
  /** retrying: how long the run waits before the next attempt. */
  waitMs?: number;
  /** retrying: ISO time of the next attempt; waiting: ISO time the wait gives up. */
  until?: string;
  /** waiting: ISO time of the next look. */
  nextAt?: string;
  /** retrying: the failure's code. */
  code?: string;
  /** waiting: what the run waits for. */
  waitingFor?: string;
  /** succeeded/waiting: the step's result, whole (ids and thumbprints only). */
  result?: unknown;
  /** succeeded: the work was found already done. */
  skipped?: boolean;
  /** parked: why. */
  reason?: string;
  /** parked, and the outcome line: the run's outcome. */
  outcome?: string;
  /** The outcome line of a run that ended without change: why. */
  note?: string;
  /** confirmed/declined: who answered (the operator, or this invocation's `--yes` or plan). */
  by?: 'operator' | 'yes' | 'plan';
  /** run started/resumed/rollbackRequested/abandonRequested: how certrotate was invoked. */
  mode?: Invocation['mode'];
  argv?: string[];
  confirmation?: Invocation['confirmation'];
  planFile?: string;
  planFingerprint?: string;
  force?: boolean;
}

/** A journal line before the runner adds the run's id, target and actor. */
export type JournalDraft = Omit<JournalLine, 'runId' | 'target' | 'actor'>;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `rotate contoso-api --plan plan.json --force`: what the run was asked to do, in the words of the command line. */
export function invocationSummary(invocation: Invocation, subject: string): string {
  const flags = [
    invocation.confirmation === 'yes' ? '--yes' : '',
    invocation.confirmation === 'plan' ? `--plan ${invocation.planFile ?? '(plan)'}` : '',
    invocation.force ? '--force' : '',
  ].filter(Boolean);
  return [invocation.mode, subject, ...flags].join(' ');
}

function invocationFields(invocation: Invocation): Partial<JournalLine> {
  return {
    mode: invocation.mode,
    argv: invocation.argv,
    confirmation: invocation.confirmation,
    ...(invocation.planFile ? { planFile: invocation.planFile } : {}),
    ...(invocation.planFingerprint ? { planFingerprint: invocation.planFingerprint } : {}),
    ...(invocation.force ? { force: true } : {}),
  };
}

/** The journal lines of one event (none for events the audit trail does not keep, e.g. a question being asked). */
export function journalLines(event: RunEvent): JournalDraft[] {
  const base = {
    time: iso(event.at),
    ...(event.oldThumbprint ? { oldThumbprint: event.oldThumbprint } : {}),
    ...(event.newThumbprint ? { newThumbprint: event.newThumbprint } : {}),
  };
  switch (event.type) {
    case 'runStarted':
      return [
        {
          ...base,
          step: 'run',
          event: 'started',
          detail: invocationSummary(event.invocation, event.target),
          ...invocationFields(event.invocation),
        },
      ];
    case 'runResumed':
      return [
        {
          ...base,
          step: 'run',
          event:
            event.invocation.mode === 'rollback'
              ? 'rollbackRequested'
              : event.invocation.mode === 'abandon'
                ? 'abandonRequested'
                : 'resumed',
          ...invocationFields(event.invocation),
        },
      ];
    case 'stepStarted':
      return [
        {
          ...base,
          step: event.step,
          event: 'started',
          attempt: event.attempt,
          ...(event.rerun ? { rerun: true, detail: 're-run after restore' } : {}),
        },
      ];
    case 'attemptStarted':
      return [{ ...base, step: event.step, event: 'started', attempt: event.attempt, after: event.after }];
    case 'retrying':
      return [
        {
          ...base,
          step: event.step,
          event: 'failed',
          attempt: event.failedAttempt,
          detail: { code: event.error.code, message: event.error.message, retryable: event.error.retryable },
          ...(event.error.requestId ? { requestIds: [event.error.requestId] } : {}),
        },
        {
          ...base,
          step: event.step,
          event: 'retrying',
          attempt: event.attempt,
          waitMs: event.waitMs,
          until: iso(event.until),
          code: event.code,
        },
      ];
    case 'waiting':
      return [
        {
          ...base,
          step: event.step,
          event: 'waiting',
          waitingFor: event.for,
          ...(event.until !== undefined ? { until: iso(event.until) } : {}),
          ...(event.nextAt !== undefined ? { nextAt: iso(event.nextAt) } : {}),
          result: scrubValue(event.result),
        },
      ];
    case 'stepDone':
      return [
        {
          ...base,
          step: event.step,
          event: 'succeeded',
          attempts: event.attempts,
          result: scrubValue(event.result),
          ...(event.skipped ? { skipped: true } : {}),
        },
      ];
    case 'stepFailed':
      return [
        {
          ...base,
          step: event.step,
          event: 'failed',
          attempt: event.attempts,
          detail: { code: event.error.code, message: event.error.message, retryable: event.error.retryable },
          ...(event.error.requestId ? { requestIds: [event.error.requestId] } : {}),
        },
      ];
    case 'confirmRequested':
      return [];
    case 'confirmed':
    case 'declined':
      return [{ ...base, step: event.step, event: event.type, detail: event.summary, by: event.by }];
    case 'parked':
      return [
        {
          ...base,
          step: event.state,
          event: 'parked',
          detail: event.message,
          outcome: event.outcome,
          ...(event.reason ? { reason: event.reason } : {}),
        },
      ];
    case 'interrupted':
      return [
        {
          ...base,
          step: event.state,
          event: 'interrupted',
          detail: event.why ? `${event.why}; resumable` : 'stopped at the operator’s request; resumable',
        },
      ];
    case 'ended':
      // The outcome line names the final state as its step (`succeeded` / `succeeded`): `show` reads it so.
      return [
        {
          ...base,
          step: event.state,
          event: event.outcome,
          outcome: event.outcome,
          ...(event.failure ? { detail: { code: event.failure.code, message: event.failure.message } } : {}),
          ...(event.note ? { note: event.note } : {}),
        },
      ];
  }
}

/**
 * The journal as an observer: each event's lines go to `write` in order, one at a time. A line that cannot be
 * written is dropped (a journal line lost is not a reason to abandon a half-done rotation); `flush` waits for all.
 */
export function journalObserver(write: (line: JournalDraft) => void | Promise<void>): Required<RunObserver> {
  let queue: Promise<void> = Promise.resolve();
  return {
    onEvent(event) {
      for (const line of journalLines(event)) {
        queue = queue.then(() => write(line)).catch(() => undefined);
      }
    },
    flush: () => queue,
  };
}

function detailText(detail: JournalEntry['detail']): string {
  if (detail === undefined) return '';
  if (typeof detail === 'string') return detail;
  return `${detail.code ? `${detail.code}: ` : ''}${detail.message}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A journal line in words, for `show`: the retry with its attempt, wait and cause, what a wait is for and until when,
 * a step's result as compact JSON (clipped for the screen; the journal keeps it whole), or the line's own detail.
 */
export function journalLineText(line: JournalLine): string {
  const detail = detailText(line.detail);
  if (line.event === 'retrying' && line.attempt !== undefined && line.waitMs !== undefined) {
    return `attempt ${line.attempt} in ${line.waitMs} ms after ${line.code ?? 'an error'}`;
  }
  if (line.event === 'waiting' && line.waitingFor) {
    return `waiting for ${line.waitingFor}${line.until ? ` until ${line.until}` : ''}`;
  }
  if (line.event === 'succeeded' && line.result !== undefined && !detail) {
    return clip(scrubString(JSON.stringify(line.result) ?? ''), 200);
  }
  if (line.event === 'started' && line.after === 'waiting' && !detail) return 'looking again';
  return detail;
}

/** Redacts the values of secret-looking options (`--client-secret X`, `--token=X`) in a command line. */
export function redactArgv(argv: readonly string[]): string[] {
  const secretOption = /^--?[\w-]*(secret|password|token|key-?pem|pfx)[\w-]*$/i;
  const out: string[] = [];
  let redactNext = false;
  for (const arg of argv) {
    if (redactNext) {
      out.push('[REDACTED]');
      redactNext = false;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (secretOption.test(name)) {
      if (eq > 0) out.push(`${name}=[REDACTED]`);
      else {
        out.push(arg);
        redactNext = true;
      }
      continue;
    }
    out.push(scrubString(arg));
  }
  return out;
}

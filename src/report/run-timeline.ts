/**
 * A run's timeline from its journal (`show RUN_ID`): one lane per step with its attempts (working) and backoff waits
 * (waiting), and one lane of operator and run events (questions answered, parks, resumes, Ctrl-C, the outcome).
 * Long gaps between journal events — a run parked for days before its resume — are compressed so the work stays readable.
 */
import { journalLineText, type JournalLine } from '../runs/observers/journal.js';

/** A stretch of a lane: a step attempt at work, or a wait before its next attempt. */
export interface TimelineSpan {
  kind: 'working' | 'waiting';
  from: number;
  to: number;
}

/** One step's lane. */
export interface TimelineLane {
  step: string;
  spans: TimelineSpan[];
  /** Attempts: the first start and every start after a failure (an interrupted attempt counts as failed). */
  attempts: number;
  status: 'succeeded' | 'failed' | 'running' | 'interrupted';
  /** The last failure's text, when the step failed at least once. */
  lastError?: string;
}

/** A point event: an answer, a park, a resume, an interruption, the outcome. */
export interface TimelineMark {
  at: number;
  step: string;
  event: string;
  detail?: string;
}

/** The timeline of one run. */
export interface RunTimeline {
  start: number;
  end: number;
  lanes: TimelineLane[];
  marks: TimelineMark[];
}

/** Lines about a step at work: `waiting` is a "not yet" look (this version), the rest as every version wrote them. */
const STEP_EVENTS = new Set(['started', 'succeeded', 'failed', 'retrying', 'waiting']);

function detailText(line: JournalLine): string | undefined {
  return journalLineText(line) || undefined;
}

/** Builds the timeline from journal lines (in the order they were written). */
export function buildTimeline(journal: JournalLine[]): RunTimeline {
  const lanes = new Map<string, TimelineLane & { open?: TimelineSpan }>();
  const marks: TimelineMark[] = [];
  const times = journal.map((e) => Date.parse(e.time)).filter((t) => Number.isFinite(t));
  const start = times.length ? Math.min(...times) : 0;
  const end = times.length ? Math.max(...times) : 0;
  // Steps are the lanes that ever start; anything else the journal says about a state is a mark.
  const steps = new Set(journal.filter((e) => e.event === 'started' && e.step !== 'run').map((e) => e.step));
  const close = (lane: TimelineLane & { open?: TimelineSpan }, at: number) => {
    if (!lane.open) return;
    lane.open.to = Math.max(lane.open.from, at);
    lane.spans.push(lane.open);
    lane.open = undefined;
  };
  for (const e of journal) {
    const at = Date.parse(e.time);
    if (!Number.isFinite(at)) continue;
    if (steps.has(e.step) && STEP_EVENTS.has(e.event)) {
      let lane = lanes.get(e.step);
      if (!lane) {
        lane = { step: e.step, spans: [], attempts: 0, status: 'running' };
        lanes.set(e.step, lane);
      }
      close(lane, at);
      if (e.event === 'started') {
        // A start after a failure is a new attempt; a start after a "not yet" (`waiting`, or in older journals a
        // success followed by another start: Key Vault's create, then the poll for the issued version) is not.
        if (lane.attempts === 0 || lane.status === 'failed' || lane.status === 'interrupted') lane.attempts++;
        lane.status = 'running';
        lane.open = { kind: 'working', from: at, to: at };
      } else if (e.event === 'succeeded') {
        lane.status = 'succeeded';
      } else if (e.event === 'failed') {
        lane.status = 'failed';
        lane.lastError = detailText(e);
      } else {
        // `retrying` (a wait before the next attempt) or `waiting` (a wait before the next look).
        lane.open = { kind: 'waiting', from: at, to: at };
      }
      continue;
    }
    if (e.event === 'interrupted' || e.event === 'parked') {
      // Whatever was at work or waiting stops here; a resume starts it again.
      for (const lane of lanes.values()) {
        if (lane.open) {
          close(lane, at);
          if (e.event === 'interrupted' && lane.status === 'running') lane.status = 'interrupted';
        }
      }
    }
    // The operator lane shows what people answered; a gate `--yes` or a plan answered is the invocation's (its
    // `run started` mark says so), and stays in the journal below.
    if (e.event === 'confirmed' && e.by !== undefined && e.by !== 'operator') continue;
    const detail = detailText(e);
    marks.push({ at, step: e.step, event: e.event, ...(detail ? { detail } : {}) });
  }
  for (const lane of lanes.values()) close(lane, end);
  return {
    start,
    end,
    lanes: [...lanes.values()].map(({ open: _open, ...lane }) => lane),
    marks,
  };
}

/** A time → column mapping over `width` columns in which each idle gap longer than `capMs` counts as `capMs`. */
export interface TimeScale {
  column(at: number): number;
  /** The gaps that were shortened, with their real length. */
  compressed: { from: number; to: number }[];
}

/** The scale of a timeline: every event time is a breakpoint; gaps between breakpoints longer than capMs shrink. */
export function timeScale(timeline: RunTimeline, width: number, capMs = 60_000): TimeScale {
  const points = new Set<number>([timeline.start, timeline.end]);
  for (const lane of timeline.lanes) for (const s of lane.spans) points.add(s.from).add(s.to);
  for (const m of timeline.marks) points.add(m.at);
  const sorted = [...points].sort((a, b) => a - b);
  const compressed: { from: number; to: number }[] = [];
  // Effective (compressed) time at each breakpoint.
  const effective: number[] = [0];
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i]! - sorted[i - 1]!;
    if (gap > capMs) compressed.push({ from: sorted[i - 1]!, to: sorted[i]! });
    effective.push(effective[i - 1]! + Math.min(gap, capMs));
  }
  const total = effective.at(-1)! || 1;
  const column = (at: number): number => {
    let i = sorted.findIndex((t) => t >= at);
    if (i === -1) i = sorted.length - 1;
    let eff = effective[i]!;
    if (i > 0 && sorted[i]! > at) {
      const gap = sorted[i]! - sorted[i - 1]!;
      eff = effective[i - 1]! + ((at - sorted[i - 1]!) / gap) * (effective[i]! - effective[i - 1]!);
    }
    return Math.min(width - 1, Math.max(0, Math.floor((eff / total) * (width - 1))));
  };
  return { column, compressed };
}

/** `950ms`, `12.3s`, `3m 5s`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Colours for the text timeline; identity functions when there is no colour. */
export interface TimelinePaint {
  working(text: string): string;
  failed(text: string): string;
  waiting(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const PLAIN: TimelinePaint = { working: (t) => t, failed: (t) => t, waiting: (t) => t, dim: (t) => t, bold: (t) => t };

const MARK_GLYPHS: Record<string, string> = {
  confirmed: '◆',
  declined: '✗',
  parked: '⏸',
  resumed: '▶',
  rollbackRequested: '↶',
  interrupted: '■',
  started: '▶',
};

/** A mark in words: `run resumed`, `attaching confirmed`, `outcome succeeded`. */
function markLabel(m: TimelineMark): string {
  return m.step === m.event ? `outcome ${m.event}` : `${m.step} ${m.event}`;
}

/** The glyph of a mark on the operator lane. */
function markGlyph(m: TimelineMark): string {
  return MARK_GLYPHS[m.event] ?? '●';
}

/**
 * The timeline as text lanes: a bar per step (█ at work, ░ waiting to retry, ✗ at a failure), an operator lane with
 * answers, parks, resumes and the outcome, a time axis, and a note of each compressed idle gap.
 */
export function timelineText(timeline: RunTimeline, opts: { width?: number; paint?: TimelinePaint } = {}): string[] {
  const width = opts.width ?? 48;
  const paint = opts.paint ?? PLAIN;
  const scale = timeScale(timeline, width);
  const nameWidth = Math.max(10, ...timeline.lanes.map((l) => l.step.length));
  const lines: string[] = [];
  const axis = Array.from({ length: width }, () => ' ');
  const startLabel = '0s';
  const endLabel = formatDuration(timeline.end - timeline.start);
  axis.splice(0, startLabel.length, ...startLabel);
  axis.splice(width - endLabel.length, endLabel.length, ...endLabel);
  for (const gap of scale.compressed) {
    const c = scale.column((gap.from + gap.to) / 2);
    axis[c] = '⋯';
  }
  lines.push(`${''.padEnd(nameWidth)}  ${paint.dim(axis.join(''))}`);
  for (const lane of timeline.lanes) {
    const cells: string[] = Array.from({ length: width }, () => paint.dim('·'));
    // Waits first, work on top: a 10 ms failed attempt shares its column with the wait after it and must show.
    const spans = [...lane.spans].sort((x, y) => (x.kind === y.kind ? 0 : x.kind === 'waiting' ? -1 : 1));
    for (const span of spans) {
      const a = scale.column(span.from);
      const b = Math.max(a, scale.column(span.to));
      for (let c = a; c <= b; c++) {
        cells[c] = span.kind === 'working' ? paint.working('█') : paint.waiting('░');
      }
    }
    const lastWorking = lane.spans.filter((s) => s.kind === 'working').at(-1);
    if (lane.status === 'failed' && lastWorking) cells[scale.column(lastWorking.to)] = paint.failed('✗');
    const took = lane.spans.reduce((sum, s) => sum + (s.to - s.from), 0);
    const attempts = lane.attempts > 1 ? `, ${lane.attempts} attempts` : '';
    const status =
      lane.status === 'succeeded' ? '' : ` ${lane.status === 'failed' ? paint.failed(lane.status) : lane.status}`;
    lines.push(`${lane.step.padEnd(nameWidth)}  ${cells.join('')}  ${formatDuration(took)}${attempts}${status}`);
  }
  if (timeline.marks.length) {
    const cells: string[] = Array.from({ length: width }, () => ' ');
    for (const m of timeline.marks) cells[scale.column(m.at)] = paint.bold(markGlyph(m));
    lines.push(`${'operator'.padEnd(nameWidth)}  ${cells.join('')}`);
    for (const m of timeline.marks) {
      const offset = `+${formatDuration(m.at - timeline.start)}`;
      lines.push(
        `${''.padEnd(nameWidth)}  ${markGlyph(m)} ${offset.padEnd(9)} ${markLabel(m)}` +
          (m.detail && m.event !== 'confirmed' ? paint.dim(` — ${m.detail}`) : ''),
      );
    }
  }
  for (const gap of scale.compressed) {
    lines.push(
      paint.dim(
        `${''.padEnd(nameWidth)}  ⋯ ${formatDuration(gap.to - gap.from)} without journal events, shortened on the axis`,
      ),
    );
  }
  lines.push(paint.dim(`${''.padEnd(nameWidth)}  █ at work  ░ waiting to retry  ✗ failed  ◆ confirmed  ⏸ parked`));
  return lines;
}

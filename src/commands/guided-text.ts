/**
 * The words of guided mode: what each step does and waits for, the plan grouped by what it creates, changes and
 * removes, retry lines, and the closing summary with the next action. Pure text, no terminal I/O, so the same words
 * are unit-tested and reused by `show`.
 */
import type { RotationPlan, PlanStep } from '../machines/plan.js';
import type { StepRecord } from '../machines/rotation-types.js';
import { STEP_NAMES, stepFacts } from '../machines/steps.js';
import type { RunDocument } from '../runs/runner.js';
import { nextCommand } from '../next-step.js';

/** A step as an operator reads it: a title and what its spinner waits for. */
export interface StepWording {
  title: string;
  waitingFor: string;
}

/** Each step's title and wait text, from the step catalogue (src/machines/steps.ts). */
const STEPS: Record<string, StepWording> = Object.fromEntries(
  STEP_NAMES.map((name) => [name, { title: stepFacts(name).title, waitingFor: stepFacts(name).waitingFor }]),
);

/**
 * Power Pages steps do other work under the same names: the platform holds the key, the site's health verifies it
 * and Graph alone retires the old key.
 */
const POWER_PAGES_STEPS: Record<string, StepWording> = {
  observeTarget: { title: 'Read the app and the site', waitingFor: 'Graph and the Power Platform API' },
  verifyNewKey: {
    title: 'Verify the site on the new key',
    waitingFor: "the site to answer healthy on the platform's new key",
  },
  retireOldKey: { title: 'Retire the old key', waitingFor: 'Graph to remove the old key from the site’s app' },
};

/** The kind of target a run rotates, where the words differ. */
export type TargetKind = 'keyvault' | 'power-pages';

/** The question asked before each mutating step, by the machine state that asks (`confirmSummary` says what). */
const CONFIRM_TITLES: Record<string, string> = Object.fromEntries(
  STEP_NAMES.flatMap((name) => {
    const { state, confirm } = stepFacts(name);
    return confirm ? [[state, confirm.question]] : [];
  }),
);

/** Title and wait description of a step (the step name itself when it is not one certrotate knows). */
export function stepWording(step: string, kind?: TargetKind): StepWording {
  return (
    (kind === 'power-pages' ? POWER_PAGES_STEPS[step] : undefined) ?? STEPS[step] ?? { title: step, waitingFor: step }
  );
}

/**
 * Where an unfinished run stopped, in words: the step at work (`during “Install the new key on the server”`), the
 * question it was asking, or the step waiting to retry — never the machine's state name.
 */
export function stoppedAt(doc: Pick<RunDocument, 'state' | 'steps'>, kind?: TargetKind): string {
  const leaf = doc.state.split('.').at(-1) ?? '';
  const gate = doc.state.split('.')[0] ?? '';
  if (leaf === 'confirming' && CONFIRM_TITLES[gate]) return `at the question “${CONFIRM_TITLES[gate]}”`;
  const open = doc.steps.findLast((s) => s.status === 'running' || s.status === 'retrying');
  if (open) {
    const title = stepWording(open.name, kind).title;
    return open.status === 'retrying' ? `while “${title}” waited to retry` : `during “${title}”`;
  }
  return 'between steps';
}

/** The question for a confirm state, e.g. `attaching` → `Attach the new key to the app registration?`. */
export function confirmQuestion(state: string): string {
  return CONFIRM_TITLES[state] ?? `Go ahead with ${state}?`;
}

/** A retry as the run's `retrying` event gives it: the next attempt, its wait and the failure's code. */
export interface RetryInfo {
  attempt: number;
  waitMs: number;
  code: string;
}

/** `950ms`, `12s`, `3m 5s`, `2h 10m`, `3d 4h`: short enough for a spinner line. */
export function shortDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** The line a spinner shows while a step waits to retry, with the time left before the next attempt. */
export function retryMessage(step: string, retry: RetryInfo, leftMs: number, kind?: TargetKind): string {
  const { title, waitingFor } = stepWording(step, kind);
  return `${title}: waiting for ${waitingFor}; attempt ${retry.attempt} in ${shortDuration(leftMs)} (after ${retry.code})`;
}

/** The date part of an ISO time, the way the plan shows expiry dates. */
function day(iso: string): string {
  return iso.slice(0, 10);
}

function daysLeft(iso: string, now: number): number {
  return Math.floor((Date.parse(iso) - now) / 86_400_000);
}

/** A plan step's before → after, reduced to the facts an operator checks: thumbprints, versions, expiry dates. */
export function beforeAfter(step: Pick<PlanStep, 'before' | 'after'>): string | undefined {
  const facts = (value: unknown): string | undefined => {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'object') return String(value);
    const v = value as Record<string, unknown>;
    const parts: string[] = [];
    if (typeof v.thumbprint === 'string') parts.push(v.thumbprint);
    if (typeof v.version === 'string') parts.push(`version ${v.version}`);
    if (typeof v.expiresOn === 'string') parts.push(`expires ${day(v.expiresOn)}`);
    if (typeof v.enabled === 'boolean') parts.push(v.enabled ? 'enabled' : 'disabled');
    if (Array.isArray(v.keyCredentials)) parts.push(`keys [${v.keyCredentials.join(', ')}]`);
    if (typeof v.healthy === 'boolean') parts.push(v.healthy ? 'healthy' : 'unhealthy');
    return parts.length ? parts.join(', ') : undefined;
  };
  const before = facts(step.before);
  const after = facts(step.after);
  if (!before && !after) return undefined;
  return `${before ?? '(none)'} → ${after ?? '(removed)'}`;
}

const GROUPS: { action: PlanStep['action']; heading: string; sign: string }[] = [
  { action: 'create', heading: 'Will create', sign: '+' },
  { action: 'modify', heading: 'Will change', sign: '~' },
  { action: 'delete', heading: 'Will remove', sign: '-' },
  { action: 'manual', heading: 'Needs a person', sign: '!' },
  { action: 'noChange', heading: 'Checks (no change)', sign: '=' },
];

/** What the plan note opens with: the key in use and when it expires, and what the new key will be. */
export interface PlanFacts {
  /** The key the server uses now. */
  current?: { thumbprint: string; expiresOn: string };
  /** When the new key would expire (keyvault: now + the policy's validity). */
  newExpiresOn?: string;
  now: number;
}

/**
 * The plan as the lines of a note: the key in use with its expiry, then the steps grouped by what they create,
 * change and remove, each with its before → after.
 */
export function planNoteLines(plan: RotationPlan, facts: PlanFacts): string[] {
  const lines: string[] = [];
  if (facts.current) {
    const left = daysLeft(facts.current.expiresOn, facts.now);
    lines.push(
      `Key in use: ${facts.current.thumbprint}, expires ${day(facts.current.expiresOn)} ` +
        (left < 0 ? `(expired ${-left} days ago)` : `(${left} days left)`),
    );
  }
  if (facts.newExpiresOn) lines.push(`New key:    expires about ${day(facts.newExpiresOn)}`);
  for (const group of GROUPS) {
    const steps = plan.steps.filter((s) => s.action === group.action);
    if (steps.length === 0) continue;
    if (lines.length) lines.push('');
    lines.push(`${group.heading}:`);
    for (const s of steps) {
      lines.push(`  ${group.sign} ${s.name}: ${s.summary}`);
      const change = beforeAfter(s);
      if (change && group.action !== 'noChange') lines.push(`      ${change}`);
    }
  }
  return lines;
}

/** How many steps of the plan change something. */
export function planChangeCount(plan: RotationPlan): number {
  return plan.steps.filter((s) => s.action !== 'noChange').length;
}

/** The headline of a run's result. */
export function outcomeHeadline(doc: RunDocument, kind?: TargetKind): string {
  switch (doc.outcome) {
    case 'succeeded':
      return `Rotated ${doc.target}: the new key is in use and the old one is retired`;
    case 'noChange':
      return `Nothing to do for ${doc.target}`;
    case 'awaitingOperator':
      return `Parked: run ${doc.runId} waits for an operator`;
    case 'awaitingRetirement':
      return `Parked: run ${doc.runId} waits out the grace period before retiring the old key`;
    case 'rolledBack':
      return `Rolled back: ${doc.target} is back on its old key`;
    case 'failed':
      return `Failed: run ${doc.runId} stopped in ${doc.state}`;
    case 'superseded':
      return `Superseded: ${doc.target} moved on without run ${doc.runId}, which stopped and withdrew its own additions`;
    default:
      return `Interrupted ${stoppedAt(doc, kind)}: run ${doc.runId} can be resumed`;
  }
}

/**
 * What the operator does next, as a sentence with the command to type; every command carries `configOption`, the
 * `--config` in use (src/next-step.ts).
 */
export function nextAction(doc: RunDocument, configOption?: string): string {
  const command = (...args: string[]) => nextCommand(args, configOption);
  const timeline = command('show', doc.runId);
  const resume = doc.next ?? command('resume', doc.runId);
  switch (doc.outcome) {
    case 'succeeded':
    case 'noChange':
      return `Nothing more to do. The timeline: ${timeline}`;
    case 'rolledBack':
      return `Find out why with ${timeline}, then rotate again when ready.`;
    case 'awaitingOperator':
      return `Continue with: ${resume}  (or withdraw it: ${command('rollback', doc.runId)})`;
    case 'awaitingRetirement':
      return `After the grace period, continue with: ${resume}`;
    case 'failed':
      return doc.next ? `Fix the cause, then: ${doc.next}` : `See what happened: ${timeline}`;
    case 'superseded':
      return `Nothing more for this run to do; check the target with ${command('scan')}. The timeline: ${timeline}`;
    default:
      return `Resume with: ${resume}`;
  }
}

/** Time a step spent at work or waiting to retry, by step name (as `show` counts it: parked time is not). */
export type StepTimes = ReadonlyMap<string, number>;

/** A step's time in ms: what `times` says, else its record's start to end; undefined while it has no end. */
export function stepMs(s: Pick<StepRecord, 'name' | 'startedAt' | 'endedAt'>, times?: StepTimes): number | undefined {
  const counted = times?.get(s.name);
  if (counted !== undefined) return counted;
  return s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : undefined;
}

function stepDuration(s: Pick<StepRecord, 'name' | 'startedAt' | 'endedAt'>, times?: StepTimes): string {
  const ms = stepMs(s, times);
  return ms === undefined ? '' : shortDuration(ms);
}

const STATUS_MARKS: Record<string, string> = { succeeded: '✓', failed: '✗', declined: '✗', parked: '⏸', skipped: '–' };

/** A step's status as a summary shows it: a step still running in an unfinished run was interrupted. */
export function shownStatus(doc: Pick<RunDocument, 'outcome'>, s: Pick<StepRecord, 'status'>): string {
  return doc.outcome === null && s.status === 'running' ? 'interrupted' : s.status;
}

/** The summary note of a run: keys, each step with its status, time and attempts, and why it stopped. */
export function summaryLines(doc: RunDocument, opts: { kind?: TargetKind; times?: StepTimes } = {}): string[] {
  const lines = [`Run:     ${doc.runId}`, `Old key: ${doc.oldThumbprint ?? '(none)'}`];
  lines.push(`New key: ${doc.newThumbprint ?? '(none)'}`);
  if (doc.steps.length) {
    lines.push('');
    const title = (name: string) => stepWording(name, opts.kind).title;
    const width = Math.max(...doc.steps.map((s) => title(s.name).length));
    for (const s of doc.steps) {
      const attempts = s.attempts > 1 ? `, ${s.attempts} attempts` : '';
      const status = shownStatus(doc, s);
      const mark = status === 'interrupted' ? '■' : (STATUS_MARKS[s.status] ?? '•');
      lines.push(
        `${mark} ${title(s.name).padEnd(width)}  ${status.padEnd(9)} ${stepDuration(s, opts.times)}${attempts}`.trimEnd(),
      );
    }
  }
  if (doc.message) lines.push('', doc.message);
  return lines;
}

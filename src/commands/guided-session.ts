/**
 * Guided mode on a terminal (a TTY, no `--yes`), drawn with @clack/prompts on stderr: the plan first, a question
 * before each mutating step, a live step list with a spinner and elapsed time while certrotate waits for Key Vault,
 * Entra or the server (attempts and the time to the next one included), and a summary with the next action.
 *
 * It only renders and asks: the run's state lives in its snapshot and journal, so whatever the operator does here
 * (decline, Ctrl-C, close the terminal) leaves a run that `resume` continues.
 */
import { intro, log, note, outro, settings, spinner, type SpinnerResult } from '@clack/prompts';
import type { RotationPlan } from '../machines/plan.js';
import type { RunEvent, RunObserver } from '../runs/events.js';
import type { RunDocument } from '../runs/runner.js';
import { nextCommand, withConfigOption } from '../next-step.js';
import { askToProceed } from './confirm.js';
import {
  confirmQuestion,
  nextAction,
  outcomeHeadline,
  planChangeCount,
  planNoteLines,
  retryMessage,
  stepWording,
  summaryLines,
  type PlanFacts,
  type RetryInfo,
  type StepTimes,
  type TargetKind,
} from './guided-text.js';

/** Options of a {@link GuidedSession}. */
export interface GuidedSessionOptions {
  /** The operator's keys (default stdin). */
  input?: NodeJS.ReadStream;
  /** Where everything is drawn (default stderr: stdout stays for `--json` and the result). */
  output?: NodeJS.WriteStream;
  /** The run's Ctrl-C/SIGTERM signal (run-support `interruptSignal`). */
  signal?: AbortSignal;
  /** `false` for `--no-color`. Colour is only ever used on a TTY. */
  color?: boolean;
  /** Epoch ms, for the countdown to the next attempt. */
  now?: () => number;
  /** The target's kind: Power Pages steps are worded for the site and the platform's key. */
  kind?: TargetKind;
  /** The global `--config` of this invocation: every command the screen offers carries it (src/next-step.ts). */
  configOption?: string;
}

/** The step a spinner is showing. */
interface ActiveStep {
  step: string;
  spinner: SpinnerResult;
  attempts: number;
  done: boolean;
  /** The last result said "not yet": the machine polls the step again. */
  polling: boolean;
  failure?: string;
  retry?: { info: RetryInfo; until: number };
  ticker?: NodeJS.Timeout;
  /** The run's keys as the step's last event knew them. */
  keys?: { oldThumbprint?: string; newThumbprint?: string };
}

function clip(text: string, max = 140): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Ctrl-C read as a key (raw mode) handled as SIGINT: the same listeners run (run-support's interrupt, clack's spinner
 * cancel), synchronously. Not `process.kill`: a signal is delivered on a later loop turn, and with nothing else
 * pending Node would exit 0 first, leaving no word on how to resume.
 */
function raiseInterrupt(): void {
  process.emit('SIGINT', 'SIGINT');
}

/** A key action of clack's settings (`cancel`, `up`, …). */
type ClackAction = Parameters<typeof settings.aliases.set>[1];

/** One guided run (or resume) on a terminal. */
export class GuidedSession {
  private readonly input: NodeJS.ReadStream;
  private readonly output: NodeJS.WriteStream;
  private readonly now: () => number;
  private active?: ActiveStep;
  private removedAliases: [string, ClackAction][] = [];

  constructor(private readonly opts: GuidedSessionOptions = {}) {
    this.input = opts.input ?? process.stdin;
    this.output = opts.output ?? process.stderr;
    this.now = opts.now ?? Date.now;
    // clack colours through util.styleText, which honours NO_COLOR but checks stdout, not the stream drawn on: with
    // stderr redirected to a file, colour codes would land in it.
    if (opts.color === false || !this.output.isTTY) process.env.NO_COLOR = '1';
  }

  /** Opens the session: `┌ certrotate ARGS… [--config FILE]`, the command at work. */
  start(args: readonly string[]): void {
    intro(nextCommand(args, this.opts.configOption), { output: this.output });
  }

  /** `text` with the --config in use added to each command it offers. */
  private withConfig(text: string): string {
    return withConfigOption(text, this.opts.configOption);
  }

  /** A line in the step list. */
  info(message: string): void {
    log.info(this.withConfig(message), { output: this.output });
  }

  /** Shows the plan: the key in use and its expiry, then what will be created, changed and removed. */
  showPlan(plan: RotationPlan, facts: PlanFacts): void {
    const changes = planChangeCount(plan);
    note(planNoteLines(plan, facts).join('\n'), `Plan for ${plan.target} (${plan.kind}): ${changes} change(s)`, {
      output: this.output,
      format: (line) => line,
    });
  }

  /** Runs `work` under a spinner titled `title` (e.g. the reads a plan is made from). */
  async during<T>(title: string, work: () => Promise<T>): Promise<T> {
    const s = this.spin(title);
    try {
      const result = await work();
      s.stop(title);
      return result;
    } catch (err) {
      s.error(`${title}: ${clip((err as Error).message ?? String(err))}`);
      throw err;
    } finally {
      this.releaseKeys();
    }
  }

  /**
   * The runner's `confirm` callback: settles the step list, then asks. A decline parks the run (the machine does
   * that). Ctrl-C at the question runs the SIGINT listeners before this returns, so the run's signal has fired and
   * the driver, already stopped, never reads the `false` as a decline.
   */
  readonly confirm = async (state: string, summary: string): Promise<boolean> => {
    // The run's events reach the observer before the driver asks: the step before the question has its result.
    this.settle('ok');
    const answer = await askToProceed(this.withConfig(`${confirmQuestion(state)}\n${summary}`), {
      input: this.input,
      output: this.output,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    });
    if (answer === 'interrupt') {
      if (!this.opts.signal?.aborted) raiseInterrupt();
      return false;
    }
    if (answer === 'no') log.warn('Declined: the run parks here, nothing more is changed', { output: this.output });
    return answer === 'yes';
  };

  /** The session as a run observer: the run's events drive the live step list. */
  readonly observer: RunObserver = { onEvent: (event) => this.onEvent(event) };

  private onEvent(event: RunEvent): void {
    switch (event.type) {
      case 'stepStarted':
      case 'attemptStarted':
      case 'waiting':
      case 'retrying':
      case 'stepDone':
      case 'stepFailed':
        this.stepEvent(event);
        return;
      case 'parked':
        this.settle('ok');
        log.warn(this.withConfig(`Parked: ${event.message}`), { output: this.output });
        return;
      case 'interrupted':
        this.settle('cancel');
        return;
      case 'ended':
        this.settle(event.outcome === 'failed' || event.outcome === 'rolledBack' ? 'error' : 'ok');
        return;
      default:
        // The question already shows the answer; a run's start or resume is in the intro.
        return;
    }
  }

  /** Closes the session: the summary (each step's time as `show` counts it, when `times` is given), then the next action. */
  finish(doc: RunDocument, times?: StepTimes): void {
    this.settle(doc.outcome === null ? 'cancel' : 'ok');
    const headline = outcomeHeadline(doc, this.opts.kind);
    const summary = summaryLines(doc, {
      ...(this.opts.kind ? { kind: this.opts.kind } : {}),
      ...(times ? { times } : {}),
    });
    note(this.withConfig(summary.join('\n')), headline, { output: this.output, format: (line) => line });
    const next = nextAction(doc, this.opts.configOption);
    if (doc.outcome === 'failed' || doc.outcome === 'rolledBack') log.error(headline, { output: this.output });
    outro(next, { output: this.output });
  }

  /** Stops whatever is still spinning (an error thrown mid-run) and gives the keys back. */
  dispose(): void {
    this.settle('cancel');
    this.releaseKeys();
  }

  private stepEvent(
    event: Extract<
      RunEvent,
      { type: 'stepStarted' | 'attemptStarted' | 'waiting' | 'retrying' | 'stepDone' | 'stepFailed' }
    >,
  ): void {
    const { step } = event;
    const wording = stepWording(step, this.opts.kind);
    let a = this.active;
    if (event.type === 'stepStarted') {
      this.settle('ok');
      const rerun = event.rerun ? ' (re-run after restore)' : '';
      this.active = a = {
        step,
        attempts: event.attempt,
        done: false,
        polling: false,
        spinner: this.spin(`${wording.title}: waiting for ${wording.waitingFor}${rerun}`),
      };
      return;
    }
    // A late event of a step already settled: already drawn.
    if (!a || a.step !== step) return;
    a.keys = { oldThumbprint: event.oldThumbprint, newThumbprint: event.newThumbprint };
    switch (event.type) {
      case 'attemptStarted': {
        // Another attempt after a retry wait, or another look after "not yet", which is no new attempt.
        a.attempts = Math.max(a.attempts, event.attempt);
        this.stopTicker(a);
        a.polling = false;
        a.retry = undefined;
        a.failure = undefined;
        const attempt = a.attempts > 1 ? ` (attempt ${a.attempts})` : '';
        a.spinner.message(`${wording.title}: waiting for ${wording.waitingFor}${attempt}`);
        return;
      }
      case 'waiting':
        if (event.inStep) {
          // A wait inside the step (Graph's read-lag window): what for and until when, not "not yet".
          const until = event.until !== undefined ? `, until ${new Date(event.until).toLocaleTimeString()}` : '';
          a.spinner.message(
            `${wording.title}: waiting for ${event.for}${until}${a.attempts > 1 ? ` (attempt ${a.attempts})` : ''}`,
          );
          return;
        }
        a.polling = true;
        a.spinner.message(`${wording.title}: not yet; still waiting for ${wording.waitingFor}`);
        return;
      case 'stepDone':
        a.done = true;
        a.attempts = event.attempts;
        a.spinner.message(`${wording.title}: done`);
        return;
      case 'stepFailed':
        a.failure = clip(`${event.error.code}: ${event.error.message}`);
        a.spinner.message(`${wording.title}: ${a.failure}`);
        return;
      case 'retrying': {
        const info: RetryInfo = { attempt: event.attempt, waitMs: event.waitMs, code: event.code };
        a.failure = clip(`${event.error.code}: ${event.error.message}`);
        a.retry = { info, until: this.now() + info.waitMs };
        const tick = () => {
          if (!a?.retry) return;
          a.spinner.message(retryMessage(step, a.retry.info, Math.max(0, a.retry.until - this.now()), this.opts.kind));
        };
        tick();
        this.stopTicker(a);
        a.ticker = setInterval(tick, 1000);
        a.ticker.unref();
        return;
      }
    }
  }

  /** Ends the active spinner line: ✓ with its attempts and key, ✗ with why, or ■ when interrupted. */
  private settle(kind: 'ok' | 'error' | 'cancel'): void {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    this.stopTicker(a);
    const { title } = stepWording(a.step, this.opts.kind);
    const attempts = a.attempts > 1 ? `, ${a.attempts} attempts` : '';
    if (kind === 'cancel' && !a.done) a.spinner.cancel(`${title}: interrupted; the step re-runs on resume`);
    else if (a.done || (kind === 'ok' && !a.failure)) a.spinner.stop(`${title}${this.keyNote(a)}${attempts}`);
    else a.spinner.error(`${title}: ${a.failure ?? 'stopped'}${attempts}`);
    this.releaseKeys();
  }

  private keyNote(a: ActiveStep): string {
    const keys = a.keys;
    if (!keys || !a.done) return '';
    if (['generateCertificate', 'attachKeyCredential', 'installServerKey', 'detectPlatformKey'].includes(a.step)) {
      return keys.newThumbprint ? ` — new key ${keys.newThumbprint}` : '';
    }
    if (a.step === 'retireOldKey' && keys.oldThumbprint) return ` — old key ${keys.oldThumbprint} removed`;
    return '';
  }

  private stopTicker(a: ActiveStep): void {
    if (a.ticker) clearInterval(a.ticker);
    a.ticker = undefined;
  }

  /**
   * A clack spinner with elapsed time. While it spins, clack holds stdin in raw mode and would end the process with
   * exit 0 on Ctrl-C or Esc; here Ctrl-C raises SIGINT instead (the run stops resumable and says how to resume) and
   * Esc does nothing.
   */
  private spin(message: string): SpinnerResult {
    this.releaseKeys();
    for (const key of ['\u0003', 'escape']) {
      const action = settings.aliases.get(key);
      if (action === 'cancel') {
        this.removedAliases.push([key, action]);
        settings.aliases.delete(key);
      }
    }
    const s = spinner({
      indicator: 'timer',
      output: this.output,
      cancelMessage: 'Interrupted',
      errorMessage: 'Failed',
    });
    s.start(message);
    this.input.on('keypress', this.onSpinnerKey);
    return s;
  }

  private readonly onSpinnerKey = (_: unknown, key?: { ctrl?: boolean; name?: string }): void => {
    if (key?.ctrl && key.name === 'c') raiseInterrupt();
  };

  private releaseKeys(): void {
    this.input.off('keypress', this.onSpinnerKey);
    for (const [key, action] of this.removedAliases) settings.aliases.set(key, action);
    this.removedAliases = [];
  }
}

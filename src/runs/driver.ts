/**
 * The glue between the rotation machine and the world: binds the step activities to the ports with
 * `machine.provide()` (closures, never input or context: both are persisted), starts or restores the actor, persists
 * every snapshot in order, journals what happens, asks for confirmations and stops at a final or parked state.
 * Storage-agnostic: the runner decides where snapshots and journal lines go.
 */
import { createActor, fromPromise } from 'xstate';
import type { Snapshot, SnapshotFrom } from 'xstate';
import type { JournalEntry } from '../adapters/ports.js';
import { toPortError } from '../adapters/ports.js';
import { outputOf } from '../machines/rotation-context.js';
import { confirmSummary } from '../machines/rotation-policies.js';
import { rotationMachine } from '../machines/rotation.js';
import type {
  RotationInput,
  RotationOutcome,
  RotationOutput,
  SleepInput,
  StepDone,
  StepFailed,
  StepName,
} from '../machines/rotation-types.js';
import { attachKeyCredential } from './steps/attach-key-credential.js';
import { awaitCertificate } from './steps/await-certificate.js';
import { awaitPropagation } from './steps/await-propagation.js';
import { detectPlatformKey } from './steps/detect-platform-key.js';
import { generateCertificate } from './steps/generate-certificate.js';
import { installServerKey } from './steps/install-server-key.js';
import { observeTarget } from './steps/observe-target.js';
import { retireOldKey } from './steps/retire-old-key.js';
import { rollBackRotation } from './steps/roll-back-rotation.js';
import type { RotationPorts } from '../adapters/rotation-ports.js';
import type { StepContext } from './steps/step-ports.js';
import { verifyNewKey } from './steps/verify-new-key.js';

export type { RotationPorts } from '../adapters/rotation-ports.js';

/** How to drive one run. */
export interface DriveOptions {
  ports: RotationPorts;
  /** A new run. */
  input?: RotationInput;
  /** Or a persisted snapshot to resume (`actor.getPersistedSnapshot()`); the step active in it re-runs. */
  snapshot?: unknown;
  /** Send RESUME after restoring a parked run. */
  resumeEvent?: boolean;
  /** Send ROLLBACK after restoring a parked run (`rollback RUN_ID`). */
  rollbackEvent?: boolean;
  /** Guided mode: asked before each mutating step. Absent = confirm everything (`--yes`). */
  confirm?: (step: string, summary: string) => Promise<boolean>;
  /** Called after every snapshot, awaited and in order. A rejection stops the run. */
  onSnapshot: (persisted: unknown, info: { state: string; status: string }) => Promise<void>;
  /** Audit lines: step start/end, retries, confirmations, parks, the outcome. */
  onJournal: (entry: Omit<JournalEntry, 'runId' | 'target'>) => void | Promise<void>;
  /** Ctrl-C: stop now, leaving the last persisted snapshot to resume from (every step is re-runnable, I3). */
  signal?: AbortSignal;
}

/** What a drive ends with. */
export interface RotationResult extends Omit<RotationOutput, 'outcome'> {
  /** The outcome; null when the drive was interrupted before a final or parked state. */
  outcome: RotationOutcome | null;
  /** `final`, `parked` or `interrupted`. */
  status: 'final' | 'parked' | 'interrupted';
  /** The machine's state, flattened: `verifying.backingOff`. */
  state: string;
}

/** Flattens a state value: `{ verifying: 'backingOff' }` → `verifying.backingOff`. */
export function flattenState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? [];
    if (key === undefined) return '';
    const rest = flattenState(child);
    return rest ? `${key}.${rest}` : key;
  }
  return '';
}

type RotationSnapshot = SnapshotFrom<typeof rotationMachine>;

/** True when a persisted snapshot holds an active step actor (not a backoff sleep): the process died mid-step. */
export function stepInFlight(snapshot: unknown): boolean {
  const children = (snapshot as { children?: Record<string, { src?: unknown; snapshot?: { status?: unknown } }> })
    .children;
  return Object.values(children ?? {}).some((c) => c.src !== 'sleepUntil' && c.snapshot?.status === 'active');
}

/** Runs (or resumes) a rotation until it ends, parks, or is interrupted. */
export async function driveRotation(opts: DriveOptions): Promise<RotationResult> {
  const { ports } = opts;
  const clock = ports.clock;
  if (!opts.input && opts.snapshot === undefined) throw new Error('driveRotation needs input or snapshot');

  let persisted: Promise<void> = Promise.resolve();
  let journaled: Promise<void> = Promise.resolve();
  let stopped = false;
  let persistError: unknown;
  // The first step that runs after a restore may be repeating work whose result never reached the snapshot — but
  // only when the snapshot shows that step in flight. A run restored from a park or a confirmation starts its next
  // step afresh (retries after a backoff sleep are known to the steps by their attempt number).
  let rerunPending = opts.snapshot !== undefined && stepInFlight(opts.snapshot);
  let thumbprints: { oldThumbprint?: string; newThumbprint?: string } = {};

  const journal = (entry: Omit<JournalEntry, 'runId' | 'target' | 'time'>) => {
    const line = { time: new Date(clock.now()).toISOString(), ...thumbprints, ...entry };
    journaled = journaled
      .then(() => opts.onJournal(line))
      .then(
        () => undefined,
        () => undefined, // a journal line lost is not a reason to abandon a half-done rotation
      );
  };

  const step = <TInput, TResult>(
    name: StepName,
    activity: (ports: RotationPorts, input: TInput, step: StepContext) => Promise<TResult>,
  ) =>
    fromPromise<StepDone<TResult>, TInput>(async ({ input, signal }) => {
      // Outbox order: let the snapshot that shows this step active reach storage before the step acts, so a crash
      // during the step resumes into this step (which re-runs, observing first) and never past it.
      await Promise.resolve();
      await persisted;
      const rerun = rerunPending;
      rerunPending = false;
      const startedAt = clock.now();
      journal({ step: name, event: 'started', ...(rerun ? { detail: 're-run after restore' } : {}) });
      try {
        const result = await activity(ports, input, { signal, rerun });
        const endedAt = clock.now();
        journal({ step: name, event: 'succeeded', detail: summarise(result) });
        return { result, startedAt, endedAt };
      } catch (thrown) {
        const error = toPortError(thrown);
        journal({
          step: name,
          event: 'failed',
          detail: { code: error.code, message: error.message, retryable: error.retryable },
          ...(error.requestId ? { requestIds: [error.requestId] } : {}),
        });
        const failed: StepFailed = { error, startedAt, endedAt: clock.now() };
        throw failed;
      }
    });

  const machine = rotationMachine.provide({
    actors: {
      observeTarget: step('observeTarget', observeTarget),
      generateCertificate: step('generateCertificate', generateCertificate),
      awaitCertificate: step('generateCertificate', awaitCertificate),
      attachKeyCredential: step('attachKeyCredential', attachKeyCredential),
      awaitPropagation: step('awaitPropagation', awaitPropagation),
      installServerKey: step('installServerKey', installServerKey),
      detectPlatformKey: step('detectPlatformKey', detectPlatformKey),
      verifyNewKey: step('verifyNewKey', verifyNewKey),
      retireOldKey: step('retireOldKey', retireOldKey),
      rollBackRotation: step('rollBackRotation', rollBackRotation),
      // Deadline-based: a restored run sleeps only for what is left of the wait.
      sleepUntil: fromPromise<void, SleepInput>(async ({ input, signal }) => {
        const remaining = input.until - clock.now();
        if (remaining > 0) await clock.sleep(remaining, signal);
      }),
    },
  });

  // XState ignores `input` when restoring from a snapshot; the types still ask for one.
  const actor = createActor(machine, {
    input: opts.input ?? ({} as RotationInput),
    ...(opts.snapshot !== undefined ? { snapshot: opts.snapshot as Snapshot<unknown> } : {}),
  });

  return new Promise<RotationResult>((resolve, reject) => {
    let ready = false;
    let askedFor: string | undefined;
    let lastState = '';

    const finish = (status: RotationResult['status']) => {
      if (stopped) return;
      stopped = true;
      const snapshot = actor.getSnapshot();
      actor.stop();
      void Promise.all([persisted, journaled]).then(() => {
        if (persistError !== undefined) return reject(persistError);
        const output = outputOf(snapshot.context);
        resolve({
          ...output,
          outcome: status === 'interrupted' ? null : output.outcome,
          status,
          state: flattenState(snapshot.value),
        });
      });
    };

    const onAbort = () => {
      journal({ step: lastState, event: 'interrupted', detail: 'stopped at the operator’s request; resumable' });
      finish('interrupted');
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const settle = (snapshot: RotationSnapshot) => {
      if (stopped || !ready) return;
      if (snapshot.status === 'done') {
        journal({ step: lastState, event: snapshot.context.outcome ?? 'done', ...failureDetail(snapshot) });
        return finish('final');
      }
      if (snapshot.status === 'error') {
        stopped = true;
        return reject(snapshot.error instanceof Error ? snapshot.error : new Error(JSON.stringify(snapshot.error)));
      }
      if (snapshot.hasTag('parked')) {
        journal({
          step: lastState,
          event: 'parked',
          detail: snapshot.context.park?.message ?? snapshot.context.outcome ?? '',
        });
        return finish('parked');
      }
      if (snapshot.hasTag('confirm')) {
        const state = flattenState(snapshot.value);
        if (askedFor === state) return;
        askedFor = state;
        const stepState = state.split('.')[0] ?? state;
        void ask(stepState, confirmSummary(snapshot.context, stepState));
      } else {
        askedFor = undefined;
      }
    };

    const ask = async (stepState: string, summary: string) => {
      let yes = true;
      if (opts.confirm) {
        try {
          yes = await opts.confirm(stepState, summary);
        } catch {
          yes = false;
        }
      }
      if (stopped) return;
      journal({ step: stepState, event: yes ? 'confirmed' : 'declined', detail: summary });
      actor.send(yes ? { type: 'CONFIRM' } : { type: 'DECLINE', now: clock.now() });
    };

    actor.subscribe({
      next: (snapshot) => {
        if (stopped) return;
        const state = flattenState(snapshot.value);
        thumbprints = {
          ...(snapshot.context.oldThumbprint ? { oldThumbprint: snapshot.context.oldThumbprint } : {}),
          ...(snapshot.context.newThumbprint ? { newThumbprint: snapshot.context.newThumbprint } : {}),
        };
        if (state !== lastState && snapshot.hasTag('backoff')) {
          const waitMs = Math.max(0, (snapshot.context.retryAt ?? 0) - clock.now());
          // Name the step that failed (its record is the one marked retrying), not the state that waits.
          const failing = snapshot.context.steps.findLast((s) => s.status === 'retrying');
          journal({
            step: failing?.name ?? state.split('.')[0] ?? state,
            event: 'retrying',
            detail: `attempt ${snapshot.context.attempt} in ${waitMs} ms after ${snapshot.context.lastError?.code ?? 'an error'}`,
          });
        }
        lastState = state;
        const persistedSnapshot = actor.getPersistedSnapshot();
        const info = { state, status: snapshot.status };
        persisted = persisted.then(async () => {
          if (persistError !== undefined) return;
          try {
            await opts.onSnapshot(persistedSnapshot, info);
          } catch (error) {
            // Without a durable snapshot the run must not go on acting: stop here; the last good one resumes.
            persistError = error;
            finish('interrupted');
          }
        });
        settle(snapshot);
      },
      error: (error) => {
        if (stopped) return;
        stopped = true;
        reject(error);
      },
    });

    actor.start();
    if (opts.snapshot !== undefined && opts.rollbackEvent) actor.send({ type: 'ROLLBACK' });
    else if (opts.snapshot !== undefined && opts.resumeEvent) actor.send({ type: 'RESUME', now: clock.now() });
    ready = true;
    settle(actor.getSnapshot());
  });
}

function failureDetail(snapshot: RotationSnapshot): Pick<JournalEntry, 'detail'> {
  const failure = snapshot.context.failure;
  return failure ? { detail: { code: failure.error.code, message: failure.message } } : {};
}

/** A short, secret-free line for the journal from a step's result (results hold ids and thumbprints only). */
function summarise(result: unknown): string {
  const text = JSON.stringify(result) ?? '';
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

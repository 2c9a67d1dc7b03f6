/**
 * One reading of a persisted run: what the runner, `resume`, `show` and the run stores need to know about a run
 * from its envelope (state, outcome, park, keys, steps), without each of them casting the XState snapshot by hand.
 */
import type { RunEnvelope } from '../adapters/ports.js';
import type { FailureInfo, ParkInfo, RotationOutcome, StepName, StepRecord } from '../machines/rotation-types.js';
import { stepOfActor } from '../machines/steps.js';

/** What a persisted snapshot says, read defensively (a snapshot is a file: any field may be missing). */
export interface SnapshotView {
  /** The machine's state value, flattened: `verifying.backingOff`; '' when the snapshot has none. */
  state: string;
  /** XState's actor status: `active`, `done`, `error`, `stopped`; 'unknown' when absent. */
  status: string;
  /** The outcome recorded once the run ended or parked; null while it is unfinished. */
  outcome: RotationOutcome | null;
  /** True when the run waits at a park for an operator or a retirement grace period. */
  parked: boolean;
  /** True when the run reached a final state. */
  ended: boolean;
  park?: ParkInfo;
  failure?: FailureInfo;
  note?: string;
  /** Why the run is parked or failed, or what it noted: the sentence a person reads next. */
  message?: string;
  oldThumbprint: string | null;
  newThumbprint: string | null;
  steps: StepRecord[];
  /** True when the process stopped with a step actor active (not a backoff sleep): that step re-runs on resume. */
  stepInFlight: boolean;
  /** That step, when it is one certrotate knows. */
  activeStep?: StepName;
}

/** A run as its envelope describes it. */
export interface RunView extends SnapshotView {
  runId: string;
  target: string;
  machineVersion: string;
  updatedAt: string;
}

/** Flattens an XState state value: `{ verifying: 'backingOff' }` → `verifying.backingOff` (parallel regions: `a,b`). */
export function flattenState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, child]) => {
        const rest = flattenState(child);
        return rest ? `${key}.${rest}` : key;
      })
      .join(',');
  }
  return '';
}

/** True when a persisted snapshot holds an active step actor (not a backoff sleep): the process died mid-step. */
export function stepInFlight(snapshot: unknown): boolean {
  const children = (snapshot as { children?: Record<string, { src?: unknown; snapshot?: { status?: unknown } }> })
    ?.children;
  return Object.values(children ?? {}).some((c) => c?.src !== 'sleepUntil' && c?.snapshot?.status === 'active');
}

/** The step whose actor is active in a persisted snapshot (the one that re-runs on resume), if any. */
export function activeStep(snapshot: unknown): StepName | undefined {
  const children = (snapshot as { children?: Record<string, { src?: unknown; snapshot?: { status?: unknown } }> })
    ?.children;
  for (const c of Object.values(children ?? {})) {
    if (c?.snapshot?.status !== 'active' || typeof c.src !== 'string') continue;
    const step = stepOfActor(c.src);
    if (step) return step;
  }
  return undefined;
}

/** Reads a persisted XState snapshot of the rotation machine (`actor.getPersistedSnapshot()`). */
export function describeSnapshot(snapshot: unknown): SnapshotView {
  const s = (snapshot ?? {}) as {
    value?: unknown;
    status?: unknown;
    output?: { outcome?: unknown };
    context?: {
      outcome?: unknown;
      park?: ParkInfo;
      failure?: FailureInfo;
      note?: unknown;
      oldThumbprint?: unknown;
      newThumbprint?: unknown;
      steps?: unknown;
    };
  };
  const ctx = s.context ?? {};
  const recorded = s.output?.outcome ?? ctx.outcome;
  // Any recorded string is the outcome: a newer machine's outcome is still shown as it wrote it.
  const outcome = typeof recorded === 'string' ? (recorded as RotationOutcome) : null;
  const status = typeof s.status === 'string' ? s.status : 'unknown';
  const note = typeof ctx.note === 'string' ? ctx.note : undefined;
  const message = ctx.failure?.message ?? ctx.park?.message ?? note;
  return {
    state: flattenState(s.value),
    status,
    outcome,
    parked: outcome === 'awaitingOperator' || outcome === 'awaitingRetirement',
    ended: status === 'done',
    ...(ctx.park ? { park: ctx.park } : {}),
    ...(ctx.failure ? { failure: ctx.failure } : {}),
    ...(note ? { note } : {}),
    ...(message ? { message } : {}),
    oldThumbprint: typeof ctx.oldThumbprint === 'string' ? ctx.oldThumbprint : null,
    newThumbprint: typeof ctx.newThumbprint === 'string' ? ctx.newThumbprint : null,
    steps: Array.isArray(ctx.steps) ? (ctx.steps as StepRecord[]) : [],
    stepInFlight: stepInFlight(snapshot),
    ...(activeStep(snapshot) ? { activeStep: activeStep(snapshot) } : {}),
  };
}

/** Reads a run's envelope: its identity and what its snapshot says. */
export function describeRun(envelope: RunEnvelope): RunView {
  return {
    runId: envelope.runId,
    target: envelope.target,
    machineVersion: envelope.machineVersion,
    updatedAt: envelope.updatedAt,
    ...describeSnapshot(envelope.snapshot),
  };
}

/** What `runs` lists and stores summarise: the flattened state and the outcome (null while unfinished). */
export function summarizeRun(snapshot: unknown): { state: string; outcome: string | null } {
  const view = describeSnapshot(snapshot);
  return { state: view.state, outcome: view.outcome };
}

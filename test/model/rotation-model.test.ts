/**
 * Model-based tests: xstate/graph walks the rotation machine over abstract step outcomes (done with each result
 * that matters, retryable and fatal errors, confirmations, resumes). Every transition of the walk is then realised
 * against the fake world by the real driver and step activities (the outcome is arranged in the world just before
 * the step runs), the real run must pass through exactly the states of the path, and I1–I3 must hold over the
 * world's history.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AnyEventObject } from 'xstate';
import { getAdjacencyMap, getShortestPaths, toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import { atAbandonableStandstill, changedNothing } from '../../src/machines/abandonment.js';
import { invocationGuards, rotationMachine } from '../../src/machines/rotation.js';
import {
  DEFAULT_RESUME_TIMEOUT_MS,
  type RotationInput,
  type StepDone,
  type StepFailed,
  type TargetObservation,
} from '../../src/machines/rotation-types.js';
import { driveRotation, flattenState } from '../../src/runs/driver.js';
import { observeTarget } from '../../src/runs/steps/observe-target.js';
import { UNAVAILABLE } from '../fakes/faults.js';
import { rotationInput } from '../fakes/harness.js';
import { checkI1, checkI2, checkI3, checkServerKeysUsable, checkSiteI1 } from '../fakes/invariants.js';
import { FakeWorld, type WorldOptions } from '../fakes/world.js';

type Snapshot = ReturnType<typeof rotationMachine.getInitialSnapshot>;
type ObservationKind = 'due' | 'dueManual' | 'notDue' | 'broken' | 'federated' | 'notOwner';

const MAX_ATTEMPTS = 2;
const VERIFY_TIMEOUT = 10 * 60_000;
const FORBIDDEN = { code: 'forbidden', message: 'HTTP 403', retryable: false, status: 403 };
const SUPERSEDED = { code: 'superseded', message: 'another run rotated the target', retryable: false };
/** The other agent's run that supersedes this one on the `superseded` paths (test/fakes/world.ts). */
const OTHER_RUN = 'run-other';

interface Variant {
  name: string;
  input: RotationInput;
  /** `--yes`: the driver answers every gate itself (no confirm callback), and preflight knows nobody is asked. */
  unattended: boolean;
  observations: ObservationKind[];
}

const variants: Variant[] = [
  {
    name: 'keyvault, guided',
    input: rotationInput({ retry: { maxAttempts: MAX_ATTEMPTS }, verifyTimeoutMs: VERIFY_TIMEOUT }),
    unattended: false,
    observations: ['due', 'dueManual', 'notDue', 'broken'],
  },
  {
    name: 'keyvault, --yes, retirement grace period',
    input: rotationInput({ retireAfterMs: 3_600_000, retry: { maxAttempts: MAX_ATTEMPTS } }),
    unattended: true,
    observations: ['due', 'dueManual'],
  },
  {
    name: 'power-pages, guided',
    input: rotationInput({
      kind: 'power-pages',
      keyVault: undefined,
      site: { environmentId: 'env-1', websiteId: 'site-1' },
      retry: { maxAttempts: MAX_ATTEMPTS },
    }),
    unattended: false,
    observations: ['due', 'notDue'],
  },
  {
    name: 'power-pages, --yes, retirement grace period',
    input: rotationInput({
      kind: 'power-pages',
      keyVault: undefined,
      site: { environmentId: 'env-1', websiteId: 'site-1' },
      retireAfterMs: 3_600_000,
      retry: { maxAttempts: MAX_ATTEMPTS },
    }),
    unattended: true,
    observations: ['due', 'federated', 'notOwner'],
  },
];

/** The world a path starts in: power-pages observations change the app or certrotate's access to it. */
function makeWorld(kind: ObservationKind): FakeWorld {
  const world = new FakeWorld(worldOptions(kind));
  if (kind === 'federated') world.useFederatedIdentity();
  if (kind === 'notOwner') world.access = { owner: false, canWrite: false, detail: 'not an owner of the app' };
  return world;
}

function worldOptions(kind: ObservationKind): WorldOptions {
  return {
    propagationMs: 0,
    readLagMs: 0,
    createDelayMs: 0,
    serverManual: kind === 'dueManual',
    daysLeft: kind === 'notDue' ? 400 : 30,
    serverBroken: kind === 'broken',
  };
}

const observations = new Map<string, TargetObservation>();
const T0 = new FakeWorld().clock.now();

beforeAll(async () => {
  for (const variant of variants) {
    for (const kind of variant.observations) {
      const world = makeWorld(kind);
      const input = variant.input;
      const observation = await observeTarget(
        world.ports(),
        {
          runId: input.runId,
          kind: input.kind,
          appId: input.appId,
          ...(input.keyVault ? { certificate: input.keyVault.certificate } : {}),
          ...(input.site ? { site: input.site } : {}),
        },
        { signal: new AbortController().signal, rerun: false },
      );
      observations.set(`${variant.name}/${kind}`, { ...observation, now: T0 });
    }
  }
});

// ---- the abstract events ------------------------------------------------------------------------------------------

const done = (id: string, result: unknown, tag?: string): AnyEventObject => ({
  type: `xstate.done.actor.${id}`,
  output: { result, startedAt: T0, endedAt: T0 } satisfies StepDone<unknown>,
  ...(tag ? { tag } : {}),
});
const error = (id: string, kind: 'retryable' | 'late' | 'fatal' | 'superseded'): AnyEventObject => {
  const endedAt = kind === 'late' ? T0 + VERIFY_TIMEOUT + 60_000 : T0 + 1;
  const cause = kind === 'fatal' ? FORBIDDEN : kind === 'superseded' ? SUPERSEDED : UNAVAILABLE;
  const failed: StepFailed = { error: cause, startedAt: T0, endedAt };
  return { type: `xstate.error.actor.${id}`, error: failed, kind };
};
const errors = (id: string, late = false) => [
  error(id, 'retryable'),
  error(id, 'fatal'),
  ...(late ? [error(id, 'late')] : []),
];
/** The step sees its premises contradicted: another run rotated the target meanwhile (I7). */
const supersededBy = (id: string) => [error(id, 'superseded')];

/** A step result that ends after any wait this walk can have started (resumeTimeout after the latest RESUME). */
const lateOutput = (result: unknown): StepDone<unknown> => ({ result, startedAt: T0, endedAt: T0 + 400 * 86_400_000 });

const NEW_KEY = { version: 'new', thumbprint: 'NEW', secretId: 'sid-new', expiresOn: '2028-01-01T00:00:00.000Z' };

function eventsFor(variant: Variant) {
  return (snapshot: Snapshot): AnyEventObject[] => {
    const state = flattenState(snapshot.value);
    const c = snapshot.context;
    const [top, sub] = state.split('.');
    // `abandon RUN_ID` of a run stopped where nothing it did needs undoing (offered only where it closes the run).
    const abandon = changedNothing(c) && atAbandonableStandstill(state) ? [{ type: 'ABANDON' }] : [];
    if (sub === 'confirming') {
      // --yes: the driver answers CONFIRM itself; nobody is there to decline or to stop it at the question.
      if (variant.unattended) return [{ type: 'CONFIRM' }];
      return [{ type: 'CONFIRM' }, { type: 'DECLINE', now: T0 }, ...abandon];
    }
    if (sub === 'backingOff' || sub === 'waiting')
      return [done('sleepUntil', undefined), { type: 'xstate.error.actor.sleepUntil', error: new Error('timer') }];
    switch (state) {
      case 'preflight.running':
        return [
          ...abandon,
          ...variant.observations.map((kind) =>
            done('observeTarget', observations.get(`${variant.name}/${kind}`), kind),
          ),
          ...errors('observeTarget'),
        ];
      case 'generating.requesting':
        return [
          done('generateCertificate', { status: 'ready', key: NEW_KEY, reused: true }, 'ready'),
          done('generateCertificate', {
            status: 'pending',
            operation: { certificateName: 'c', serialized: '{}' },
            reused: false,
          }),
          ...errors('generateCertificate'),
          ...supersededBy('generateCertificate'),
        ];
      case 'generating.polling':
        return [
          done('awaitCertificate', { key: NEW_KEY }),
          ...errors('awaitCertificate'),
          ...supersededBy('awaitCertificate'),
        ];
      case 'attaching.running':
        return [
          done('attachKeyCredential', { keyId: 'k-new', method: 'addKey' }),
          ...errors('attachKeyCredential'),
          ...supersededBy('attachKeyCredential'),
        ];
      case 'attaching.propagating':
        return [done('awaitPropagation', { tokenExpiresOn: 'x' }), ...errors('awaitPropagation', true)];
      case 'installing.running':
        // A manual server makes no call: it can only park, or (after the operator resumed) go on.
        if (c.serverManual) {
          return [done('installServerKey', { status: c.operatorConfirmed ? 'operatorConfirmed' : 'manual' })];
        }
        return [
          done('installServerKey', { status: 'installed' }),
          ...errors('installServerKey'),
          ...supersededBy('installServerKey'),
        ];
      case 'detectingPlatformKey.running':
        return [
          ...abandon,
          done(
            'detectPlatformKey',
            { status: 'found', keyId: 'k-new', thumbprint: 'NEW', expiresOn: 'x', keySet: [] },
            'found',
          ),
          done('detectPlatformKey', { status: 'notYet' }),
          // resumeTimeout used up without a new key: the run parks again.
          { ...done('detectPlatformKey', { status: 'notYet' }, 'late'), output: lateOutput({ status: 'notYet' }) },
          ...errors('detectPlatformKey'),
        ];
      case 'verifying.running':
        return [done('verifyNewKey', {}), ...errors('verifyNewKey', true)];
      case 'retiring.running':
        return [
          done('retireOldKey', { keyRemoved: 'removed', versionDisabled: 'disabled' }),
          ...errors('retireOldKey'),
          // keyvault, a server that reports its key: the step sees another run's key on the server.
          ...(c.settings.kind === 'keyvault' && !c.serverManual ? supersededBy('retireOldKey') : []),
        ];
      case 'rollingBack.running': {
        const result = { serverRestored: 'restored', keyRemoved: 'removed', versionDisabled: 'disabled' };
        if (c.serverManual && c.progress.installed && !c.operatorConfirmed) {
          return [done('rollBackRotation', { ...result, status: 'needsOperator' })];
        }
        // power-pages: the platform holds the key, so rollback makes no call that could fail.
        const canFail = c.settings.kind === 'keyvault';
        return [
          done('rollBackRotation', { ...result, status: 'rolledBack' }),
          ...(canFail ? errors('rollBackRotation') : []),
          ...(canFail && !c.serverManual ? supersededBy('rollBackRotation') : []),
        ];
      }
      case 'withdrawing.running':
        return [
          done('withdrawAdditions', { keyRemoved: 'removed', versionDisabled: 'disabled' }),
          ...errors('withdrawAdditions'),
        ];
      case 'awaitingRetirement':
      case 'awaitingOperator':
        return [{ type: 'RESUME', now: T0 + 365 * 86_400_000 }, { type: 'ROLLBACK' }, ...abandon];
      default:
        if (top && snapshot.status === 'done') return [];
        return [];
    }
  };
}

/** What decides the machine's next moves: the state and the context facts its guards read (not step records). */
function serializeState(snapshot: Snapshot): string {
  const c = snapshot.context;
  return JSON.stringify({
    value: snapshot.value,
    attempt: Math.min(c.attempt, MAX_ATTEMPTS),
    progress: c.progress,
    park: c.park ? `${c.park.reason}->${c.park.resumeTo}` : null,
    operatorConfirmed: c.operatorConfirmed,
    operation: c.operation !== undefined,
    serverManual: c.serverManual,
    current: c.current !== undefined,
  });
}

// ---- realising a path against the fake world ------------------------------------------------------------------------

interface Step {
  event: AnyEventObject;
  state: Snapshot;
}

/** Arranges the world so the step about to run in the state just entered produces `event`. */
function arrange(world: FakeWorld, event: AnyEventObject, runId: string): void {
  const type = event.type;
  if (type === 'xstate.error.actor.sleepUntil') {
    world.clock.failNextSleeps = 1;
  } else if (type === 'xstate.error.actor.awaitCertificate' && event.kind === 'superseded') {
    // The pending create this run adopted was another agent's: the version it makes carries that run's tag.
    world.pendingCreateIsAnotherRuns(OTHER_RUN);
  } else if (type.startsWith('xstate.error.actor.') && event.kind === 'superseded') {
    // Another agent rotates the target now: a newer version and key for the vault and app checks, the server moved
    // to it for the server checks (install, retire, rollback).
    const onServer = !type.endsWith('generateCertificate') && !type.endsWith('attachKeyCredential');
    world.anotherRunRotates({ runId: OTHER_RUN, installs: onServer });
  } else if (type.startsWith('xstate.error.actor.')) {
    if (event.kind === 'late') world.clock.advance(VERIFY_TIMEOUT + 60_000);
    world.faults.add({ call: '*', mode: 'fail', error: event.kind === 'fatal' ? FORBIDDEN : UNAVAILABLE });
  } else if (type === 'xstate.done.actor.generateCertificate' && event.tag === 'ready') {
    world.seedTaggedVersion(runId);
  } else if (type === 'xstate.done.actor.detectPlatformKey' && event.tag === 'found') {
    world.platformUpdateKey();
  } else if (type === 'xstate.done.actor.detectPlatformKey' && event.tag === 'late') {
    world.clock.advance(DEFAULT_RESUME_TIMEOUT_MS + 60_000);
  }
}

async function realise(variant: Variant, steps: Step[]) {
  const observed = steps.find((s) => s.event.type === 'xstate.done.actor.observeTarget')?.event.tag as
    ObservationKind | undefined;
  const world = makeWorld(observed ?? 'due');
  const expected = steps.map((s) => flattenState(s.state.value));
  const seen: string[] = [];
  let snapshot: unknown;
  let drive = 0;
  for (;;) {
    const controller = new AbortController();
    let skipRestored = drive > 0;
    const resumeWith = drive > 0 ? steps[seen.length]?.event.type : undefined;
    const abandonNext = () => steps[seen.length]?.event.type === 'ABANDON';
    const result = await driveRotation({
      ports: world.ports(),
      ...(drive === 0 ? { input: variant.input } : { snapshot }),
      ...(resumeWith === 'RESUME' ? { resumeEvent: true } : {}),
      ...(resumeWith === 'ROLLBACK' ? { rollbackEvent: true } : {}),
      ...(resumeWith === 'ABANDON' ? { abandonEvent: true } : {}),
      signal: controller.signal,
      // --yes: no callback; the driver answers every gate itself (and journals that it did).
      ...(variant.unattended
        ? {}
        : {
            confirm: async () => {
              // Ctrl-C at the question, then `abandon RUN_ID`: stop here, the next drive abandons.
              if (abandonNext()) controller.abort();
              await new Promise((resolve) => setImmediate(resolve));
              return steps[seen.length]?.event.type === 'CONFIRM';
            },
          }),
      onSnapshot: async (persisted, info) => {
        if (controller.signal.aborted) return;
        snapshot = JSON.parse(JSON.stringify(persisted));
        if (skipRestored) {
          skipRestored = false;
          return;
        }
        seen.push(info.state);
        const next = steps[seen.length];
        if (!next)
          controller.abort(); // the path ends here; the real run would go on
        // The process stops here (Ctrl-C, or it parked); `abandon RUN_ID` comes in the next drive.
        else if (next.event.type === 'ABANDON') controller.abort();
        else arrange(world, next.event, variant.input.runId);
      },
      onJournal: () => {},
    });
    drive += 1;
    const stoppedToAbandon = result.status === 'interrupted' && abandonNext();
    if ((result.status !== 'parked' && !stoppedToAbandon) || seen.length >= steps.length) {
      return { world, expected, seen, result };
    }
    const parked = (snapshot as { context: Snapshot['context'] }).context;
    // Play the operator the park asked for before resuming.
    if (parked.park?.reason === 'manualInstall' && parked.newThumbprint) world.operatorInstalls(parked.newThumbprint);
    if (parked.park?.reason === 'manualRestore' && parked.oldThumbprint) world.operatorInstalls(parked.oldThumbprint);
    // The driver resumes with the world's time: let the grace period pass first.
    if (parked.outcome === 'awaitingRetirement') world.clock.advance(variant.input.retireAfterMs);
    if (drive > 10) throw new Error('too many drives');
  }
}

// ---- coverage bookkeeping -----------------------------------------------------------------------------------------

function allNodes(node: DirectedGraphNode): DirectedGraphNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}
const graph = toDirectedGraph(rotationMachine);
const machineEdges = allNodes(graph)
  .flatMap((n) => n.edges)
  .map((e) => ({ source: e.source.id, target: e.target.id, event: e.label.text }));
const machineStates = allNodes(graph).map((n) => n.id);

const coveredEdges = new Set<string>();
const coveredStates = new Set<string>();

function within(leaf: string, nodeId: string): boolean {
  const path = `rotation.${leaf}`;
  return path === nodeId || path.startsWith(`${nodeId}.`);
}

function record(from: string, event: string, to: string): void {
  for (const edge of machineEdges) {
    if (edge.event === event && within(from, edge.source) && within(to, edge.target)) {
      coveredEdges.add(`${edge.source} --${edge.event}--> ${edge.target}`);
    }
  }
  for (const id of machineStates) if (within(to, id) || within(from, id)) coveredStates.add(id);
}

// ---- the tests ----------------------------------------------------------------------------------------------------

describe.each(variants)('rotation model: $name', (variant) => {
  it('every transition of the walk, realised against the fakes, follows the model and keeps I1–I3', async () => {
    // The walk feeds actor done/error events, which are not in the machine's declared event union.
    const options = { input: variant.input, events: eventsFor(variant) as never, serializeState };
    // The invocation's mode, as the driver provides it: never read from the run's context.
    const machine = variant.unattended
      ? rotationMachine.provide({ guards: invocationGuards({ unattended: true }) })
      : rotationMachine;
    const adjacency = getAdjacencyMap(machine, options);
    const shortest = new Map(getShortestPaths(machine, options).map((p) => [serializeState(p.state), p]));
    let transitions = 0;
    for (const [key, { state, transitions: outgoing }] of Object.entries(adjacency)) {
      const prefix = shortest.get(key);
      expect(prefix, `no path to ${key}`).toBeDefined();
      for (const { event, state: next } of Object.values(outgoing) as Step[]) {
        const steps: Step[] = [...prefix!.steps, { event, state: next }];
        const { world, expected, seen, result } = await realise(variant, steps);
        const where = `${expected.join(' → ')} (event ${event.type})`;
        expect(seen, where).toEqual(expected);
        record(flattenState(state.value), event.type, flattenState(next.value));
        transitions += 1;

        const old = world.seededVersion.thumbprint;
        const problems = [
          ...(variant.input.kind === 'keyvault' && !world.options.serverBroken ? checkI1(world) : []),
          ...(variant.input.kind === 'power-pages' ? checkSiteI1(world) : []),
          ...checkServerKeysUsable(world),
          ...(variant.input.kind === 'keyvault' ? checkI2(world, old) : []),
          ...checkI3(world, variant.input.runId, old, [OTHER_RUN]),
        ];
        expect(problems, where).toEqual([]);
        if (result.outcome === 'superseded') {
          // It withdrew only its own additions, and only what the server does not use (I7).
          const ours = world.allVersions().filter((v) => v.tags['certrotate-run'] === variant.input.runId);
          const server = world.serverKey();
          for (const v of ours.filter((x) => x.thumbprint !== server)) {
            expect(v.enabled, where).toBe(false);
            expect(
              world.appKeys().some((k) => k.thumbprint === v.thumbprint),
              where,
            ).toBe(false);
          }
          const theirs = world.allVersions().find((v) => v.tags['certrotate-run'] === OTHER_RUN);
          expect(theirs?.enabled, where).toBe(true);
          // Superseded in awaitCertificate, the other run is still in flight: its version exists, its key is not
          // attached yet. Everywhere else it rotated fully, and its key stays on the app.
          const otherInFlight = steps.some(
            (s) => s.event.type === 'xstate.error.actor.awaitCertificate' && s.event.kind === 'superseded',
          );
          expect(
            world.appKeys().some((k) => k.thumbprint === theirs?.thumbprint),
            where,
          ).toBe(!otherInFlight);
        }
        if (result.outcome === 'rolledBack' && variant.input.kind === 'keyvault') {
          expect(
            world.appKeys().map((k) => k.thumbprint),
            where,
          ).toEqual([old]);
          expect(
            world
              .allVersions()
              .filter((v) => v.enabled)
              .map((v) => v.thumbprint),
            where,
          ).toEqual([old]);
        }
      }
    }
    expect(transitions).toBeGreaterThan(20);
  });
});

describe('rotation model coverage', () => {
  // toDirectedGraph lists every transition; with `--yes` the walk passes each gate by the CONFIRM the driver sends.
  it('the walks reached every state and every transition of the machine', () => {
    expect(machineEdges.length).toBeGreaterThan(70);
    const missingStates = machineStates.filter((id) => !coveredStates.has(id));
    const missingEdges = machineEdges
      .map((e) => `${e.source} --${e.event}--> ${e.target}`)
      .filter((e) => !coveredEdges.has(e));
    expect(missingStates).toEqual([]);
    expect(missingEdges).toEqual([]);
  });
});

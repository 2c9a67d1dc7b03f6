/**
 * The rotation chart's structure, pinned: a persisted `rotation/6` snapshot restores only into the same states,
 * transitions, guards, actions and invokes, so a refactor of how the chart is written must not change what it is.
 *
 * The fixture was captured from the chart before the builder refactor. Besides the serialisable definition
 * (`JSON.stringify(machine.root.definition)` with `always` transitions added, which the definition leaves out), every
 * function in it — invoke inputs, guard and action params, the root output — is called on a few probe
 * contexts and events and its result (or the error it throws) recorded, so a changed step name, park message, detail
 * or input shows up even though JSON alone would drop functions.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { initialContext } from '../../../src/machines/rotation-context.js';
import type { RotationContext, RotationInput } from '../../../src/machines/rotation-types.js';
import { ROTATION_MACHINE_VERSION, rotationMachine } from '../../../src/machines/rotation.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const FIXTURE = new URL('./__fixtures__/rotation-structure.json', import.meta.url);

const keyVaultInput: RotationInput = {
  runId: 'run-probe',
  target: 'probe-target',
  kind: 'keyvault',
  appId: 'app-probe',
  keyVault: {
    certificate: 'probe-cert',
    policy: {
      subject: 'CN=probe',
      validityMonths: 12,
      keyType: 'RSA',
      keySize: 2048,
      contentType: 'application/x-pem-file',
    },
  },
  site: { environmentId: 'env-probe', websiteId: 'site-probe' },
  dataverseUrl: 'https://probe.crm.dynamics.com',
  rotateBeforeMs: 30 * 86_400_000,
  verifyTimeoutMs: 600_000,
  retireAfterMs: 3_600_000,
  resumeTimeoutMs: 120_000,
};

/** Everything a step could have recorded: each optional spread and `??` fallback takes its first branch. */
const richContext: RotationContext = {
  ...initialContext(keyVaultInput),
  current: {
    thumbprint: 'OLDTP',
    keyId: 'kid-old',
    expiresOn: '2026-01-01T00:00:00.000Z',
    version: 'v-old',
    secretId: 'https://vault/secrets/probe-cert/v-old',
  },
  oldThumbprint: 'OLDTP',
  newThumbprint: 'NEWTP',
  newKey: {
    version: 'v-new',
    thumbprint: 'NEWTP',
    secretId: 'https://vault/secrets/probe-cert/v-new',
    expiresOn: '2027-01-01T00:00:00.000Z',
  },
  newKeyId: 'kid-new',
  operation: { certificateName: 'probe-cert', serialized: '{"op":1}' },
  observedKeyIds: ['kid-old'],
  serverManual: true,
  progress: { generated: true, attached: true, installed: true },
  attempt: 3,
  retryAt: 7_000,
  waitDeadline: 9_000,
  verifyDeadline: 8_000,
  operatorConfirmed: true,
  park: { reason: 'manualInstall', resumeTo: 'installing', message: 'install it' },
  site: { name: 'Probe site', status: 'Running', healthy: true, source: 'api', url: 'https://probe.site' },
  outcome: 'awaitingOperator',
  note: 'a note',
};

/** A power-pages run that has recorded nothing: each `missing(...)` throws and each fallback takes its other branch. */
const bareContext: RotationContext = initialContext({
  runId: 'run-bare',
  target: 'bare-target',
  kind: 'power-pages',
  appId: 'app-bare',
  rotateBeforeMs: 0,
  verifyTimeoutMs: 300_000,
  retireAfterMs: 0,
});

/**
 * Probe events: one field set for every event the chart reads (done output, error, DECLINE reason/now, RESUME now).
 * The result carries every step's result fields at once; params functions only pick from it.
 */
const probeEvents = [
  {
    type: 'probe.rich',
    reason: 'not now',
    now: 5_000,
    output: {
      startedAt: 1_000,
      endedAt: 2_000,
      result: {
        status: 'found',
        reused: true,
        keyId: 'kid-new',
        method: 'alreadyAttached',
        thumbprint: 'NEWTP',
        expiresOn: '2027-01-01T00:00:00.000Z',
        keySet: [{ keyId: 'kid-new', thumbprint: 'NEWTP', endDateTime: '2027-01-01T00:00:00.000Z' }],
        serverRestored: 'restored',
        keyRemoved: 'alreadyGone',
        versionDisabled: 'disabled',
        diff: { removed: ['OLDTP'], kept: ['NEWTP'] },
      },
    },
    error: {
      error: { code: 'throttled', message: 'slow down', retryable: true, status: 429 },
      startedAt: 1_500,
      endedAt: 2_500,
    },
  },
  {
    type: 'probe.sparse',
    output: {
      startedAt: 3_000,
      endedAt: 4_000,
      result: {
        status: 'notYet',
        reused: false,
        keyId: 'kid-2',
        method: 'addKey',
        keyRemoved: 'removed',
        versionDisabled: 'none',
        serverRestored: 'manual',
      },
    },
    // Not a StepFailed: asStepFailed's fallback.
    error: new Error('socket hang up'),
  },
  {
    type: 'probe.install',
    now: 6_000,
    output: { startedAt: 5_000, endedAt: 6_000, result: { status: 'alreadyInstalled', reused: false } },
    error: { error: { code: 'forbidden', message: 'no', retryable: false }, startedAt: 5_500, endedAt: 6_500 },
  },
];

const probes = [richContext, bareContext].flatMap((context) => probeEvents.map((event) => ({ context, event })));

/** What a function of the chart returns on each probe (one JSON line each, to keep the fixture short), or throws. */
function probe(fn: (args: unknown) => unknown): Json {
  return probes.map((args) => {
    try {
      return `returns ${JSON.stringify(toJson(fn(args), false))}`;
    } catch (error) {
      return `throws ${error instanceof Error ? error.message : String(error)}`;
    }
  });
}

/**
 * Plain JSON of a chart value, as `JSON.stringify` sees it (toJSON honoured), except that `undefined` is kept as a
 * marker (an absent key and a key set to undefined differ) and functions are probed instead of dropped.
 */
function toJson(value: unknown, probeFunctions = true, depth = 0): Json {
  if (depth > 40) throw new Error('rotation-structure: value nests too deep (a cycle?)');
  if (value === undefined) return '[undefined]';
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') {
    return value;
  }
  if (typeof value === 'function') {
    // Built-in action creators (assign, …) carry their configuration as properties; they are not to be called.
    const builtin = value as { type?: unknown; assignment?: unknown };
    if (typeof builtin.type === 'string') {
      return { builtin: builtin.type, assignment: toJson(builtin.assignment, false, depth + 1) };
    }
    return probeFunctions ? { fn: probe(value as (args: unknown) => unknown) } : '[fn]';
  }
  if (Array.isArray(value)) return value.map((item) => toJson(item, probeFunctions, depth + 1));
  if (typeof value === 'object') {
    // Like JSON.stringify: toJSON once, then the result's own keys (a transition's toJSON spreads itself, toJSON too).
    const withToJson = value as { toJSON?: unknown };
    const plain: unknown = typeof withToJson.toJSON === 'function' ? withToJson.toJSON.call(value) : value;
    if (plain === null || typeof plain !== 'object') return toJson(plain, probeFunctions, depth + 1);
    const out: { [key: string]: Json } = {};
    for (const [key, item] of Object.entries(plain)) {
      if (key === 'toJSON') continue;
      out[key] = toJson(item, probeFunctions, depth + 1);
    }
    return out;
  }
  return `[${typeof value}]`;
}

/** A state node's definition with its `always` transitions (absent from `definition`) and its children in order. */
function describeNode(node: AnyStateNode): Json {
  const { states: _states, on, ...definition } = node.definition;
  return {
    ...(toJson(definition) as { [key: string]: Json }),
    // `transitions` holds every branch in order with its event; `on` groups the same objects, so only its shape here.
    on: Object.fromEntries(Object.entries(on).map(([event, branches]) => [event, branches.length])),
    always: node.always ? toJson(node.always) : '[none]',
    childOrder: Object.keys(node.states),
    states: Object.fromEntries(Object.entries(node.states).map(([key, child]) => [key, describeNode(child)])),
  };
}

function describeMachine(): Json {
  const implementations = rotationMachine.implementations;
  return {
    version: ROTATION_MACHINE_VERSION,
    id: rotationMachine.id,
    root: describeNode(rotationMachine.root),
    implementations: {
      actors: Object.keys(implementations.actors),
      guards: Object.keys(implementations.guards),
      actions: Object.keys(implementations.actions),
    },
  };
}

describe('rotation machine structure', () => {
  it('is the chart captured before the builder refactor: same states, transitions, guards, actions and invokes', () => {
    // A deliberate change to the chart (with a ROTATION_MACHINE_VERSION bump) re-captures the fixture with
    // UPDATE_STRUCTURE_FIXTURE=1; review its diff like code.
    if (process.env.UPDATE_STRUCTURE_FIXTURE === '1') {
      writeFileSync(FIXTURE, `${JSON.stringify(JSON.parse(JSON.stringify(describeMachine())), null, 2)}\n`);
    }
    const before = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Json;
    // Round-trip through JSON so both sides are plain data compared key by key.
    const now = JSON.parse(JSON.stringify(describeMachine())) as Json;
    expect(now).toStrictEqual(before);
  });

  it('probes reach both branches of what the chart reads (the fixture is not vacuous)', () => {
    const lines: string[] = [];
    const collect = (value: Json): void => {
      if (typeof value === 'string' && /^(returns|throws) /.test(value)) lines.push(value);
      else if (Array.isArray(value)) value.forEach(collect);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
    };
    const described = describeMachine();
    collect(described);
    // Six probes per function: every invoke input and every dynamic guard or action param of the chart.
    expect(lines.length).toBeGreaterThan(100 * probes.length);
    const text = lines.join('\n');
    // Each missing(...) throws on the bare context; rich values reach step inputs, step records and park messages.
    expect(text).toContain('throws rotation machine: the new key missing from context');
    expect(text).toContain('throws rotation machine: the current key missing from context');
    expect(text).toContain('The operator declined to roll back (not now)');
    expect(text).toContain('"step":"generateCertificate"');
    expect(text).toContain('https://vault/secrets/probe-cert/v-new');
    // `always` (left out of `definition`) is described; since rotation/6 no state has one: the gates always wait
    // for CONFIRM, which the driver sends itself for `--yes` (the mode belongs to the invocation, not the run).
    expect(JSON.stringify(described)).toContain('"always":"[none]"');
    expect(JSON.stringify(described)).not.toContain('"always":[');
  });
});

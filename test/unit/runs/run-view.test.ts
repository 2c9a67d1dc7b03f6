/** One reading of a persisted run (src/runs/run-view.ts), for the runner, resume, show and the stores. */
import { describe, expect, it } from 'vitest';
import { describeRun, describeSnapshot, flattenState, summarizeRun } from '../../../src/runs/run-view.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

describe('run view', () => {
  it('flattens state values', () => {
    expect(flattenState('succeeded')).toBe('succeeded');
    expect(flattenState({ verifying: 'backingOff' })).toBe('verifying.backingOff');
    expect(flattenState({ retiring: { removing: 'key' } })).toBe('retiring.removing.key');
    expect(flattenState(undefined)).toBe('');
  });

  it('reads a parked run: outcome, park, message, keys and steps', async () => {
    const world = new FakeWorld();
    const { record, result } = await driveInWorld(world, {
      input: rotationInput(),
      confirm: async (step) => step !== 'installing',
    });
    const view = describeRun({
      formatVersion: 1,
      machineVersion: 'v',
      runId: 'run-0001',
      target: 'contoso-api',
      updatedAt: '2026-01-01T00:00:00.000Z',
      snapshot: record.snapshot,
    });
    expect(view).toMatchObject({
      runId: 'run-0001',
      target: 'contoso-api',
      state: 'awaitingOperator',
      outcome: 'awaitingOperator',
      parked: true,
      ended: false,
      park: { reason: 'declined', resumeTo: 'installing' },
      oldThumbprint: result.oldThumbprint,
      newThumbprint: result.newThumbprint,
      stepInFlight: false,
    });
    expect(view.message).toBe(view.park?.message);
    expect(view.steps.map((s) => s.name)).toEqual(result.steps.map((s) => s.name));
  });

  it('reads an ended run and tolerates a snapshot with missing fields', async () => {
    const { record } = await driveInWorld(new FakeWorld());
    expect(describeSnapshot(record.snapshot)).toMatchObject({ state: 'succeeded', outcome: 'succeeded', ended: true });
    expect(describeSnapshot({})).toMatchObject({
      state: '',
      status: 'unknown',
      outcome: null,
      parked: false,
      ended: false,
      oldThumbprint: null,
      steps: [],
    });
    expect(summarizeRun({ value: 'awaitingOperator', context: { outcome: 'awaitingOperator' } })).toEqual({
      state: 'awaitingOperator',
      outcome: 'awaitingOperator',
    });
    expect(summarizeRun({ value: 'verifying', context: {} })).toEqual({ state: 'verifying', outcome: null });
  });
});

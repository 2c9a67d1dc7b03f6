import { describe, expect, it } from 'vitest';
import { stepInFlight } from '../../../src/runs/driver.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { checkInvariants } from '../../fakes/invariants.js';
import { FakeWorld } from '../../fakes/world.js';

describe('re-runs after a restore', () => {
  it('starts the next step afresh when the run was parked at a confirmation, without the read-settle wait', async () => {
    const world = new FakeWorld();
    // Decline the attach confirmation: the run parks before attachKeyCredential ever started.
    const { result, record } = await driveInWorld(world, {
      input: rotationInput(),
      confirm: async (step) => step !== 'attaching',
    });
    expect(result.outcome).toBe('awaitingOperator');
    expect(stepInFlight(record.snapshot)).toBe(false);

    const resumed = await driveInWorld(world, {
      snapshot: record.snapshot,
      resumeEvent: true,
      confirm: async () => true,
      record,
    });
    expect(resumed.result.outcome).toBe('succeeded');
    const attachStart = record.journal.filter((e) => e.step === 'attachKeyCredential' && e.event === 'started');
    expect(attachStart.at(-1)?.detail).toBeUndefined();
    // No settle loop: attaching took far less than the 2-minute read-settle window a re-run would wait out.
    const attachEnd = record.journal.filter((e) => e.step === 'attachKeyCredential' && e.event === 'succeeded').at(-1);
    expect(Date.parse(attachEnd!.time) - Date.parse(attachStart.at(-1)!.time)).toBeLessThan(60_000);
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
  });

  it('treats a snapshot with a step actor in flight as a possible repeat, and a backoff sleep as not', () => {
    expect(stepInFlight({ children: { a: { src: 'attachKeyCredential', snapshot: { status: 'active' } } } })).toBe(
      true,
    );
    expect(stepInFlight({ children: { a: { src: 'attachKeyCredential', snapshot: { status: 'done' } } } })).toBe(false);
    expect(stepInFlight({ children: { s: { src: 'sleepUntil', snapshot: { status: 'active' } } } })).toBe(false);
    expect(stepInFlight({ value: 'awaitingOperator' })).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { throttled, UNAVAILABLE, TIMEOUT, type FaultRule } from '../fakes/faults.js';
import { checkInvariants } from '../fakes/invariants.js';
import { driveInWorld } from '../fakes/harness.js';
import { FakeWorld } from '../fakes/world.js';

async function callsOfCleanRun(): Promise<[string, number][]> {
  const world = new FakeWorld();
  await driveInWorld(world);
  const seen = new Map<string, number>();
  return world.calls.map((name) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return [name, n] as [string, number];
  });
}

const faults: [string, (call: string, skip: number) => FaultRule][] = [
  ['429 with retry-after', (call, skip) => ({ call, skip, mode: 'fail', times: 2, error: throttled(7_000) })],
  ['503', (call, skip) => ({ call, skip, mode: 'fail', times: 3, error: UNAVAILABLE })],
  ['a timeout after the effect', (call, skip) => ({ call, skip, mode: 'failAfter', times: 1, error: TIMEOUT })],
];

describe.each(faults)('%s at every port call', (_name, rule) => {
  it('converges (or rolls back cleanly) and keeps the invariants', async () => {
    const points = await callsOfCleanRun();
    for (const [call, occurrence] of points) {
      const world = new FakeWorld();
      const old = world.seededVersion.thumbprint;
      world.faults.add(rule(call, occurrence - 1));
      const { result } = await driveInWorld(world);
      const where = `${call} #${occurrence}`;
      expect(['succeeded', 'rolledBack'], where).toContain(result.outcome);
      expect(checkInvariants(world, 'run-0001', old), where).toEqual([]);
      if (result.outcome === 'succeeded') {
        expect(world.appKeys(), where).toHaveLength(1);
        expect(world.serverKey(), where).toBe(result.newThumbprint);
      } else {
        expect(
          world.appKeys().map((k) => k.thumbprint),
          where,
        ).toEqual([old]);
        expect(world.serverKey(), where).toBe(old);
      }
    }
  });
});

describe('retry policy', () => {
  it('honours Retry-After: the backoff sleep is at least what the service asked for', async () => {
    const world = new FakeWorld();
    world.faults.add({ call: 'apps.addKey', mode: 'fail', times: 1, error: throttled(42_000) });
    const { result, record } = await driveInWorld(world);
    expect(result.outcome).toBe('succeeded');
    expect(world.clock.sleeps).toContain(42_000);
    expect(record.journal.some((j) => j.step === 'attachKeyCredential' && j.event === 'retrying')).toBe(true);
    expect(result.steps.find((s) => s.name === 'attachKeyCredential')?.attempts).toBe(2);
  });

  it('gives up after maxAttempts on a persistent 503 and rolls back what it did', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    world.faults.add({ call: 'server.install', mode: 'fail', times: 100, error: UNAVAILABLE });
    const { result } = await driveInWorld(world);
    expect(result.outcome).toBe('rolledBack');
    expect(result.steps.find((s) => s.name === 'installServerKey')).toMatchObject({ status: 'failed', attempts: 6 });
    expect(world.appKeys().map((k) => k.thumbprint)).toEqual([old]);
    expect(world.allVersions()[1]!.enabled).toBe(false);
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });

  it('fails with an actionable message when the vault refuses the create', async () => {
    const world = new FakeWorld();
    world.faults.add({
      call: 'certificates.beginCreate',
      mode: 'fail',
      error: { code: 'forbidden', message: 'Forbidden', status: 403, retryable: false },
    });
    const { result } = await driveInWorld(world);
    expect(result.outcome).toBe('failed');
    expect(result.failure?.message).toMatch(/app and server are unchanged/);
    expect(world.allVersions()).toHaveLength(1);
    expect(world.serverKey()).toBe(world.seededVersion.thumbprint);
  });
});

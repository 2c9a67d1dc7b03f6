import { describe, expect, it } from 'vitest';
import { checkInvariants } from '../fakes/invariants.js';
import { driveInWorld, driveToEnd } from '../fakes/harness.js';
import { FakeWorld, type WorldOptions } from '../fakes/world.js';

/** Every port call of a clean run, as `[name, occurrence]` (the crash fires after that occurrence's effect). */
async function callsOfCleanRun(options: WorldOptions): Promise<[string, number][]> {
  const world = new FakeWorld(options);
  const { result } = await driveInWorld(world);
  expect(result.outcome).toBe('succeeded');
  const seen = new Map<string, number>();
  return world.calls.map((name) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return [name, n] as [string, number];
  });
}

describe.each([
  ['default world', {}],
  ['pending creates report their tags', { pendingReportsTags: true }],
  ['no read lag, slow Key Vault', { readLagMs: 0, createDelayMs: 30_000 }],
])('crash right after the side effect of any call (%s)', (_name, options: WorldOptions) => {
  it('resumes from the last persisted snapshot and converges with one version and one key', async () => {
    const points = await callsOfCleanRun(options);
    expect(points.length).toBeGreaterThan(15);
    for (const [call, occurrence] of points) {
      const world = new FakeWorld(options);
      const old = world.seededVersion.thumbprint;
      world.faults.add({ call, mode: 'crashAfter', skip: occurrence - 1 });
      const { result, crashes } = await driveToEnd(world);
      const where = `crash after ${call} #${occurrence}`;
      expect(crashes, where).toBe(1);
      expect(result.outcome, where).toBe('succeeded');
      expect(checkInvariants(world, 'run-0001', old), where).toEqual([]);
      const versions = world.allVersions();
      expect(versions, where).toHaveLength(2);
      expect(
        world.appKeys().map((k) => k.thumbprint),
        where,
      ).toEqual([versions[1]!.thumbprint]);
      expect(world.serverKey(), where).toBe(versions[1]!.thumbprint);
      expect(versions[0]!.enabled, where).toBe(false);
    }
  });
});

describe('repeated crashes', () => {
  it('survives a crash after every mutating call of the same run', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    for (const call of [
      'certificates.beginCreate',
      'apps.addKey',
      'server.install',
      'apps.removeKey',
      'certificates.setVersionEnabled',
    ]) {
      world.faults.add({ call, mode: 'crashAfter' });
    }
    const { result, crashes } = await driveToEnd(world);
    expect(crashes).toBe(5);
    expect(result.outcome).toBe('succeeded');
    expect(checkInvariants(world, 'run-0001', old)).toEqual([]);
  });
});

/**
 * prune's premise for an orphaned Key Vault version, over the fake world: a version a run's create made after the run
 * ended (tagged with that run, enabled, on no credential of the app) is disabled only when a fresh observation right
 * before the write still shows it an orphan; re-running is a no-op; any premise that fails keeps it, saying why.
 */
import { describe, expect, it } from 'vitest';
import { MemoryTargetLock } from '../../../src/adapters/state/memory-lock.js';
import { MemoryRunStore } from '../../../src/adapters/state/memory-run-store.js';
import { credentialDisplayName } from '../../../src/machines/world-markers.js';
import { newRunId } from '../../../src/runs/runner.js';
import { disableOrphanVersion } from '../../../src/runs/orphan-version.js';
import { observeInventory } from '../../../src/runs/world-guard.js';
import { rotationInput } from '../../fakes/harness.js';
import { APP_ID, FakeWorld } from '../../fakes/world.js';

/** A world where run `lateRun` is over (no record here, stale at once) and its create's version appeared later. */
function worldWithLateVersion() {
  const world = new FakeWorld({ readLagMs: 0 });
  const ports = world.ports();
  const lateRun = newRunId('contoso-api', world.clock.now() - 3_600_000);
  const late = world.seedTaggedVersion(lateRun);
  const sources = { store: new MemoryRunStore(), lock: new MemoryTargetLock(), staleRunAfterMs: 0 };
  const input = rotationInput({ runId: 'prune' });
  return { world, ports, lateRun, late, sources, input };
}

const enabledOf = (world: FakeWorld, version: string) =>
  world.allVersions().find((v) => v.version === version)?.enabled;

describe('disabling an orphaned Key Vault version (prune)', () => {
  it('the inventory reports it; the re-observed premise holds; it is disabled once and re-running changes nothing', async () => {
    const { world, ports, lateRun, late, sources, input } = worldWithLateVersion();
    const { inventory } = await observeInventory(ports, sources, input);
    expect(inventory.orphanVersions).toEqual([
      expect.objectContaining({ version: late.version, runId: lateRun, liveness: 'stale' }),
    ]);
    const keysBefore = world.appKeys();

    await expect(disableOrphanVersion(ports, sources, input, late.version)).resolves.toEqual({ result: 'disabled' });
    expect(enabledOf(world, late.version)).toBe(false);
    const writes = world.calls.filter((c) => c === 'certificates.setVersionEnabled').length;

    await expect(disableOrphanVersion(ports, sources, input, late.version)).resolves.toEqual({
      result: 'alreadyDisabled',
    });
    expect(world.calls.filter((c) => c === 'certificates.setVersionEnabled').length).toBe(writes);
    // Nothing else changed: the app's keys and the version in service.
    expect(world.appKeys()).toEqual(keysBefore);
    expect(enabledOf(world, world.seededVersion.version)).toBe(true);
  });

  it('keeps it when its run attached it since the plan', async () => {
    const { world, ports, late, lateRun, sources, input } = worldWithLateVersion();
    const seeded = world.seededVersion;
    await ports.apps.addKey(
      APP_ID,
      { thumbprint: late.thumbprint, secretId: late.secretId },
      { thumbprint: seeded.thumbprint, secretId: seeded.secretId },
      { displayName: credentialDisplayName(lateRun) },
    );
    await expect(disableOrphanVersion(ports, sources, input, late.version)).resolves.toEqual({
      result: 'kept',
      why: 'the app holds its key',
    });
    expect(enabledOf(world, late.version)).toBe(true);
  });

  it('keeps it when the server now uses its key', async () => {
    const { world, ports, late, sources, input } = worldWithLateVersion();
    world.operatorInstalls(late.thumbprint);
    const kept = await disableOrphanVersion(ports, sources, input, late.version);
    expect(kept).toEqual({ result: 'kept', why: 'its key is the one in service' });
    expect(enabledOf(world, late.version)).toBe(true);
  });

  it('keeps it while its run holds the target lock (the run is live and may attach it)', async () => {
    const { world, ports, late, lateRun, sources, input } = worldWithLateVersion();
    await sources.lock.acquire('contoso-api', lateRun);
    const kept = await disableOrphanVersion(ports, sources, input, late.version);
    expect(kept).toMatchObject({ result: 'kept', why: expect.stringContaining('is live') });
    expect(enabledOf(world, late.version)).toBe(true);
  });

  it('keeps it within the staleness bound when no local record says its run is over', async () => {
    const { world, ports, late, sources, input } = worldWithLateVersion();
    const kept = await disableOrphanVersion(
      ports,
      { ...sources, staleRunAfterMs: 24 * 3_600_000 },
      input,
      late.version,
    );
    expect(kept).toMatchObject({ result: 'kept', why: expect.stringContaining('is live') });
    expect(enabledOf(world, late.version)).toBe(true);
  });
});

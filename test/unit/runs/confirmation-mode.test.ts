/**
 * The confirmation mode belongs to the invocation, not to the run (issue 16, defect 3): the machine waits at every
 * gate whatever the run was started with; the driver answers CONFIRM itself only when this invocation has no one to
 * ask (`--yes`), and journals who answered each gate. A run started with `--yes` and resumed guided asks before each
 * remaining mutating step — and shows the Power Pages diff before the PATCH.
 */
import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../../src/adapters/ports.js';
import type { RotationInput } from '../../../src/machines/rotation-types.js';
import { driveRotation } from '../../../src/runs/driver.js';
import { driveInWorld, rotationInput, RunRecord } from '../../fakes/harness.js';
import { checkInvariants, checkSiteI1 } from '../../fakes/invariants.js';
import { FakeWorld } from '../../fakes/world.js';

type Line = Omit<JournalEntry, 'runId' | 'target'> & { by?: string };

const MINUTE = 60_000;

function portalInput(overrides: Partial<RotationInput> = {}): RotationInput {
  return rotationInput({
    target: 'contoso-portal',
    kind: 'power-pages',
    keyVault: undefined,
    dataverseUrl: undefined,
    site: { environmentId: 'env-1', websiteId: 'site-1' },
    resumeTimeoutMs: 30 * MINUTE,
    ...overrides,
  });
}

/** Who answered which gate, from the journal. */
function answers(journal: Line[]): string[] {
  return journal
    .filter((l) => l.event === 'confirmed' || l.event === 'declined')
    .map((l) => `${l.step} ${l.event} by ${l.by}`);
}

describe('confirmation mode of an invocation', () => {
  it('--yes: the driver answers every gate itself and the journal says so', async () => {
    const world = new FakeWorld();
    const { result, record } = await driveInWorld(world);
    expect(result.outcome).toBe('succeeded');
    expect(answers(record.journal as Line[])).toEqual([
      'generating confirmed by yes',
      'attaching confirmed by yes',
      'installing confirmed by yes',
      'retiring confirmed by yes',
    ]);
  });

  it('guided: the operator is asked at every gate, and the journal names the operator', async () => {
    const world = new FakeWorld();
    const asked: string[] = [];
    const { result, record } = await driveInWorld(world, {
      confirm: async (step) => {
        asked.push(step);
        return true;
      },
    });
    expect(result.outcome).toBe('succeeded');
    expect(asked).toEqual(['generating', 'attaching', 'installing', 'retiring']);
    expect(answers(record.journal as Line[]).every((a) => a.endsWith('by operator'))).toBe(true);
  });

  it('a run started with --yes and killed in a step asks, resumed guided, before each change left', async () => {
    const world = new FakeWorld();
    const first = new RunRecord();
    world.faults.add({ call: 'server.install', mode: 'crashAfter', error: { code: 'crashed' } });
    const crashed = await driveInWorld(world, { record: first });
    expect(crashed.result.status).toBe('interrupted');
    expect((first.snapshot as { value: unknown }).value).toEqual({ installing: 'running' });

    // Resumed guided: the install step re-runs (it was in flight, observing first); the retirement is asked for.
    world.revive();
    const asked: string[] = [];
    const declined = await driveInWorld(world, {
      snapshot: first.snapshot,
      confirm: async (step) => {
        asked.push(step);
        return false;
      },
    });
    expect(asked).toEqual(['retiring']);
    expect(declined.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    // Declined: the old key is still on the app; nothing was removed unasked.
    expect(world.appKeys().map((k) => k.thumbprint)).toContain(world.seededVersion.thumbprint);
  });

  it('a restored snapshot of a --yes run waiting at a gate asks there when resumed guided', async () => {
    const world = new FakeWorld();
    const controller = new AbortController();
    let atGate: unknown;
    const journal: Line[] = [];
    // The --yes process dies right after its snapshot at the attach gate reached storage.
    const killed = await driveRotation({
      ports: world.ports(),
      input: rotationInput(),
      signal: controller.signal,
      onSnapshot: async (persisted, info) => {
        if (controller.signal.aborted) return;
        if (info.state === 'attaching.confirming') {
          atGate = JSON.parse(JSON.stringify(persisted));
          controller.abort();
        }
      },
      onJournal: (line) => {
        journal.push(line);
      },
    });
    expect(killed.status).toBe('interrupted');
    expect((atGate as { value: unknown }).value).toEqual({ attaching: 'confirming' });
    // The gate's snapshot carries no mode: nothing in it says --yes.
    expect(JSON.stringify(atGate)).not.toMatch(/autoConfirm|unattended/);
    // Nothing was attached: the kill came before the step acted.
    expect(world.appKeys()).toHaveLength(1);

    const asked: string[] = [];
    const resumed = await driveInWorld(world, {
      snapshot: atGate,
      confirm: async (step) => {
        asked.push(step);
        return step !== 'installing';
      },
    });
    expect(asked).toEqual(['attaching', 'installing']);
    expect(resumed.result).toMatchObject({ outcome: 'awaitingOperator', status: 'parked' });
    expect(resumed.result.park?.reason).toBe('declined');
    // Declined before install: the server still uses the old key.
    expect(world.serverKey()).toBe(world.seededVersion.thumbprint);
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
    expect(answers([...journal, ...(resumed.record.journal as Line[])])).toEqual([
      'generating confirmed by yes',
      'attaching confirmed by yes',
      'attaching confirmed by operator',
      'installing declined by operator',
    ]);
  });

  it('power-pages: started --yes, resumed guided after Update key, shows the admin steps and the PATCH diff first', async () => {
    const world = new FakeWorld();
    const old = world.seededVersion.thumbprint;
    const started = await driveInWorld(world, { input: portalInput() });
    // Unattended: nobody can press Update key, so it parks at once.
    expect(started.result).toMatchObject({ outcome: 'awaitingOperator' });
    expect(started.result.park?.reason).toBe('platformKeyUpdate');

    world.platformUpdateKey({ restartMs: 0 });
    const asked: { step: string; summary: string }[] = [];
    const resumed = await driveInWorld(world, {
      snapshot: started.record.snapshot,
      resumeEvent: true,
      confirm: async (step, summary) => {
        asked.push({ step, summary });
        return step !== 'retiring';
      },
    });
    expect(asked.map((a) => a.step)).toEqual(['detectingPlatformKey', 'retiring']);
    const diff = asked[1]!.summary;
    expect(diff).toContain('PATCH keyCredentials');
    expect(diff).toContain(`- ${old}`);
    // Declined at the diff: no PATCH, the old key is still on the app.
    expect(resumed.result.outcome).toBe('awaitingOperator');
    expect(world.history.filter((e) => e.kind === 'keyRemoved')).toEqual([]);
    expect(world.appKeys().map((k) => k.thumbprint)).toContain(old);
    expect(answers(resumed.record.journal as Line[])).toEqual([
      'detectingPlatformKey confirmed by operator',
      'retiring declined by operator',
    ]);
    expect(checkSiteI1(world)).toEqual([]);
  });
});

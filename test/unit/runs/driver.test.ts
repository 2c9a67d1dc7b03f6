import { describe, expect, it } from 'vitest';
import { driveRotation, flattenState } from '../../../src/runs/driver.js';
import { checkInvariants } from '../../fakes/invariants.js';
import { driveInWorld, rotationInput } from '../../fakes/harness.js';
import { FakeWorld } from '../../fakes/world.js';

describe('driveRotation', () => {
  it('flattens state values', () => {
    expect(flattenState('succeeded')).toBe('succeeded');
    expect(flattenState({ verifying: 'backingOff' })).toBe('verifying.backingOff');
  });

  it('journals every step start and end, retries and the outcome, with thumbprints once known', async () => {
    const world = new FakeWorld();
    const { record, result } = await driveInWorld(world);
    const lines = record.journal.map((j) => `${j.step}:${j.event}`);
    for (const step of [
      'observeTarget',
      'generateCertificate',
      'attachKeyCredential',
      'installServerKey',
      'retireOldKey',
    ]) {
      expect(lines).toContain(`${step}:started`);
      expect(lines).toContain(`${step}:succeeded`);
    }
    expect(lines).toContain('awaitPropagation:failed');
    expect(lines).toContain('awaitPropagation:retrying');
    expect(lines.at(-1)).toBe('succeeded:succeeded');
    const retire = record.journal.find((j) => j.step === 'retireOldKey' && j.event === 'started')!;
    expect(retire).toMatchObject({ oldThumbprint: result.oldThumbprint, newThumbprint: result.newThumbprint });
    expect(record.journal.every((j) => !Number.isNaN(Date.parse(j.time)))).toBe(true);
  });

  it('persists before it acts: a step runs only once the snapshot showing it active is stored', async () => {
    const world = new FakeWorld();
    const ports = world.ports();
    let stored = '';
    const seenAt: Record<string, string> = {};
    const spy = <T extends object>(port: T, prefix: string): T =>
      new Proxy(port, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            seenAt[`${prefix}.${String(name)}`] ??= stored;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const result = await driveRotation({
      ports: { ...ports, apps: spy(ports.apps, 'apps'), server: spy(ports.server!, 'server') },
      input: rotationInput(),
      onSnapshot: async (_persisted, info) => {
        // A slow disk: several turns of the event loop per write.
        for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
        stored = info.state;
      },
      onJournal: () => {},
    });
    expect(result.outcome).toBe('succeeded');
    expect(seenAt['apps.addKey']).toBe('attaching.running');
    expect(seenAt['server.install']).toBe('installing.running');
    expect(seenAt['apps.removeKey']).toBe('retiring.running');
  });

  it('stops when a snapshot cannot be stored, and the last stored one resumes', async () => {
    const world = new FakeWorld();
    let saved: unknown;
    const failing = driveRotation({
      ports: world.ports(),
      input: rotationInput(),
      onSnapshot: async (persisted, info) => {
        if (info.state === 'installing.running') throw new Error('disk full');
        saved = JSON.parse(JSON.stringify(persisted));
      },
      onJournal: () => {},
    });
    await expect(failing).rejects.toThrow('disk full');
    expect(world.calls).not.toContain('server.install');
    const { result } = await driveInWorld(world, { snapshot: saved });
    expect(result.outcome).toBe('succeeded');
    expect(checkInvariants(world, 'run-0001', world.seededVersion.thumbprint)).toEqual([]);
  });

  it('asks before each mutating step only, and treats a throwing prompt as a decline', async () => {
    const world = new FakeWorld();
    const asked: [string, string][] = [];
    const { result } = await driveInWorld(world, {
      input: rotationInput(),
      confirm: async (step, summary) => {
        asked.push([step, summary]);
        if (step === 'retiring') throw new Error('stdin closed');
        return true;
      },
    });
    expect(asked.map(([s]) => s)).toEqual(['generating', 'attaching', 'installing', 'retiring']);
    expect(asked[1]![1]).toMatch(/^add key [0-9A-F]{40} to app .* \(key [0-9A-F]{40} stays\)$/);
    expect(result).toMatchObject({ outcome: 'awaitingOperator', park: { reason: 'declined', resumeTo: 'retiring' } });
  });
});

/**
 * The azure-blob state backend against the RunStore and TargetLock conformance suites, and what only shared storage
 * has to get right: concurrent snapshot writers (one wins per ETag), journal appends from a stale position and the
 * roll to a new blob, and a lease that runs out after its holder was killed (kill -9). One sandbox with Azurite
 * (HTTPS, OAuth through certrotate's own credential) for the whole file; a fresh prefix per test.
 */
import { spawn } from 'node:child_process';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/adapters/ports.js';
import { BlobTargetLock } from '../../src/adapters/state/azure-blob-lock.js';
import { BlobRunStore, RunMovedOnError } from '../../src/adapters/state/azure-blob-run-store.js';
import { leaseIdOf } from '../../src/adapters/state/azure-blob-storage.js';
import { openStateBackend } from '../../src/adapters/state/index.js';
import { startBlobWorld, type BlobWorld } from '../helpers/blob-state.js';
import { describeTargetLockConformance } from './lock.js';
import { describeRunStoreConformance, envelope } from './run-store.js';

/** The built lock (the e2e and conformance runs come after `npm run build`), loaded by the holder process. */
const lockModule = new URL('../../dist/adapters/state/azure-blob-lock.js', import.meta.url).href;

let world: BlobWorld;
beforeAll(async () => {
  world = await startBlobWorld();
}, 120_000);
afterAll(async () => {
  await world?.stop();
});

describeRunStoreConformance('azure-blob', async () => {
  const prefix = world.freshPrefix();
  const open = () => new BlobRunStore(world.container, { prefix });
  const store = open();
  return {
    store,
    reopen: open,
    async writeRawSnapshot(runId, text) {
      await world.container.getBlockBlobClient(store.objectName(runId, 'snapshot.json')).upload(text, text.length);
    },
  };
});

describeTargetLockConformance('azure-blob', async () => {
  const prefix = world.freshPrefix();
  return { open: (p) => new BlobTargetLock(world.container, { ...p, prefix }) };
});

const T0 = Date.parse('2026-11-28T08:00:00.000Z');
const line = (runId: string, i: number): JournalEntry => ({
  time: new Date(T0 + i * 1000).toISOString(),
  runId,
  target: 'contoso-api',
  step: `step${i}`,
  event: 'started',
});

describe('azure-blob state: what shared storage adds', () => {
  it('opens from the config the sandbox wrote, signed in as the operator, and names the container', async () => {
    const backend = openStateBackend(world.config);
    expect(backend.location).toBe(`${world.sb.storage!.accountUrl}/certrotate`);
    expect(backend.renewEveryMs).toBe(20_000);
    await backend.store.saveSnapshot(envelope(`open-${Date.now()}`, 1));
    expect((await backend.store.listRuns()).length).toBeGreaterThan(0);
    // Storage checks the bearer token: without one it refuses.
    const anonymous = new ContainerClient(`${world.sb.storage!.accountUrl}/certrotate`);
    const refused = await anonymous
      .getBlobClient('x')
      .getProperties()
      .then(
        () => 200,
        (err: { statusCode?: number }) => err.statusCode,
      );
    // Azurite says 403 (Azure: 401 or 403 by case); never 200 or 404, which would mean it looked.
    expect([401, 403]).toContain(refused);
  });

  it('lets exactly one of two writers holding the same ETag save; the other re-reads and refuses to overwrite', async () => {
    const prefix = world.freshPrefix();
    const first = new BlobRunStore(world.container, { prefix });
    await first.saveSnapshot(envelope('r1', 1));
    const a = new BlobRunStore(world.container, { prefix });
    const b = new BlobRunStore(world.container, { prefix });
    await a.loadSnapshot('r1');
    await b.loadSnapshot('r1');
    const results = await Promise.allSettled([a.saveSnapshot(envelope('r1', 2)), b.saveSnapshot(envelope('r1', 3))]);
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(RunMovedOnError);
    expect(String(lost.reason.message)).toMatch(/run r1 was moved on by another writer/);
    const n = (await first.loadSnapshot('r1'))?.snapshot as { context: { n: number } };
    expect(n.context.n).toBe(won[0] === 0 ? 2 : 3);
    // The loser stays refused until it reads again: it never overwrites what it has not seen.
    const loser = won[0] === 0 ? b : a;
    await expect(loser.saveSnapshot(envelope('r1', 4))).rejects.toBeInstanceOf(RunMovedOnError);
    await loser.loadSnapshot('r1');
    await loser.saveSnapshot(envelope('r1', 5));
    expect(((await first.loadSnapshot('r1'))?.snapshot as { context: { n: number } }).context.n).toBe(5);
  });

  it('lets exactly one of two new runs create a snapshot (If-None-Match: *), and accepts its own landed write', async () => {
    const prefix = world.freshPrefix();
    const a = new BlobRunStore(world.container, { prefix });
    const b = new BlobRunStore(world.container, { prefix });
    const results = await Promise.allSettled([a.saveSnapshot(envelope('r2', 1)), b.saveSnapshot(envelope('r2', 2))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    // A writer whose create landed but whose reply was lost tries again: the 412 re-reads and finds its own bytes.
    const c = new BlobRunStore(world.container, { prefix });
    const winner = results[0]!.status === 'fulfilled' ? 1 : 2;
    await c.saveSnapshot(envelope('r2', winner));
  });

  it('appends from a stale position by re-reading the tail: no line lost, none doubled, order kept', async () => {
    const prefix = world.freshPrefix();
    const a = new BlobRunStore(world.container, { prefix });
    const b = new BlobRunStore(world.container, { prefix });
    await a.appendJournal(line('r3', 0));
    await b.appendJournal(line('r3', 1)); // b learns the tail from storage
    await a.appendJournal(line('r3', 2)); // a's position is stale: 412, re-read, append at the end
    await b.appendJournal(line('r3', 3)); // and b's too
    expect((await new BlobRunStore(world.container, { prefix }).readJournal('r3')).map((e) => e.step)).toEqual([
      'step0',
      'step1',
      'step2',
      'step3',
    ]);
  });

  it('rolls the journal to a new append blob before the block limit, and reads all of them back in order', async () => {
    const prefix = world.freshPrefix();
    const store = new BlobRunStore(world.container, { prefix, journalBlocksPerBlob: 3 });
    for (let i = 0; i < 7; i++) void store.appendJournal(line('r4', i));
    await store.flush();
    const names: string[] = [];
    for await (const blob of world.container.listBlobsFlat({ prefix: `${prefix}runs/r4/` })) names.push(blob.name);
    expect(names.map((n) => n.slice(`${prefix}runs/r4/`.length))).toEqual([
      'journal-000000.jsonl',
      'journal-000001.jsonl',
      'journal-000002.jsonl',
    ]);
    // Another process picks up at the newest blob.
    const other = new BlobRunStore(world.container, { prefix, journalBlocksPerBlob: 3 });
    await other.appendJournal(line('r4', 7));
    expect((await store.readJournal('r4')).map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `step${i}`));
  });

  it('names the holder in the lock blob metadata and leases it under an id derived from the run id', async () => {
    const prefix = world.freshPrefix();
    const lock = new BlobTargetLock(world.container, { prefix, host: 'agent-1', pid: 4242 });
    await lock.acquire('contoso-api', '20261128T080000Z-contoso-api-0a1b2c');
    const props = await world.container.getBlobClient(`${prefix}locks/contoso-api`).getProperties();
    expect(props.leaseState).toBe('leased');
    expect(props.leaseDuration).toBe('fixed');
    expect(props.metadata).toMatchObject({
      runid: '20261128T080000Z-contoso-api-0a1b2c',
      host: 'agent-1',
      pid: '4242',
      since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // Anyone else's write without the lease is refused by storage itself (412 LeaseIdMissing).
    await expect(
      world.container.getBlobClient(`${prefix}locks/contoso-api`).setMetadata({ runid: 'intruder' }),
    ).rejects.toMatchObject({ statusCode: 412 });
    expect(leaseIdOf('20261128T080000Z-contoso-api-0a1b2c')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  });

  it('breaks an unexpired lease only when asked to (--break-lease); the holder then cannot renew', async () => {
    const prefix = world.freshPrefix();
    const holder = new BlobTargetLock(world.container, { prefix, host: 'agent-far', pid: 1 });
    const operator = new BlobTargetLock(world.container, { prefix, host: 'laptop', pid: 2 });
    await holder.acquire('t', 'run-far');
    expect(await operator.forceRelease('t')).toMatchObject({ status: 'refused', reason: 'leaseActive' });
    expect(await operator.forceRelease('t', { breakLease: true })).toMatchObject({
      status: 'removed',
      holder: { runId: 'run-far', host: 'agent-far' },
    });
    await expect(holder.renew('t', 'run-far')).rejects.toThrow(/run run-far no longer holds it/);
    expect(await operator.acquire('t', 'run-next')).toEqual({ acquired: true });
  });

  it('hands the lock to a second agent within lease + renewal time after the holder is killed (kill -9)', async () => {
    const prefix = world.freshPrefix();
    // The holder: a real process on "another agent" that takes a 15 s lease and renews it every 5 s.
    const script = `
      const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
      const { BlobTargetLock } = await import(${JSON.stringify(lockModule)});
      const [url, container, prefix, key] = process.argv.slice(1);
      const c = new BlobServiceClient(url, new StorageSharedKeyCredential('devstoreaccount1', key)).getContainerClient(container);
      const lock = new BlobTargetLock(c, { prefix, leaseMs: 15000, host: 'agent-killed' });
      const r = await lock.acquire('t', 'run-killed');
      process.stdout.write(r.acquired ? 'acquired\\n' : 'refused\\n');
      setInterval(() => lock.renew('t', 'run-killed').catch(() => {}), 5000);
    `;
    const { EMULATOR_ACCOUNT_KEY } = await import('../../src/sandbox/storage.js');
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, world.sb.storage!.accountUrl, 'certrotate', prefix, EMULATOR_ACCOUNT_KEY],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: `${world.sb.dir}/ca.pem` }, cwd: process.cwd() },
    );
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout!.once('data', (d: Buffer) =>
        d.toString().startsWith('acquired') ? resolve() : reject(new Error(`holder: ${d.toString()}`)),
      );
      child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${err}`)));
    });
    const second = new BlobTargetLock(world.container, { prefix, leaseMs: 15_000, host: 'agent-2' });
    expect(await second.acquire('t', 'run-second')).toMatchObject({ acquired: false, holder: { runId: 'run-killed' } });
    const killedAt = Date.now();
    child.kill('SIGKILL');
    let got;
    while (!(got = await second.acquire('t', 'run-second')).acquired) {
      expect(Date.now() - killedAt).toBeLessThan(15_000 + 5_000 + 2_000);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(got).toMatchObject({ acquired: true, takenOverFrom: { runId: 'run-killed', host: 'agent-killed' } });
    expect((await second.holder('t'))?.runId).toBe('run-second');
  }, 40_000);
});

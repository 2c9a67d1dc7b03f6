import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rmdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileTargetLock, LockLostError } from '../../../src/adapters/state/file-lock.js';

describe('FileTargetLock', () => {
  let dir: string;
  let now: number;
  const clock = { now: () => now };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-lock-'));
    now = Date.parse('2026-11-28T00:00:00Z');
  });

  it('gives the lock to one run and names the holder to the other', async () => {
    const a = new FileTargetLock(dir, { clock, pid: process.pid });
    expect(await a.acquire('contoso-api', 'run-a')).toEqual({ acquired: true });
    const second = await a.acquire('contoso-api', 'run-b');
    expect(second).toMatchObject({ acquired: false, holder: { runId: 'run-a', pid: process.pid } });
    // Another target is independent.
    expect((await a.acquire('fabrikam-api', 'run-b')).acquired).toBe(true);
  });

  it('is idempotent for the holder and releases only its own lock', async () => {
    const lock = new FileTargetLock(dir, { clock });
    await lock.acquire('t', 'run-a');
    expect(await lock.acquire('t', 'run-a')).toEqual({ acquired: true });
    await lock.release('t', 'run-b');
    expect((await lock.holder('t'))?.runId).toBe('run-a');
    await lock.release('t', 'run-a');
    expect(await lock.holder('t')).toBeUndefined();
    await lock.release('t', 'run-a');
  });

  it('takes over at once from a dead process on this host', async () => {
    const dead = new FileTargetLock(dir, { clock, pid: 999_999, host: 'h1', isProcessAlive: () => false });
    await dead.acquire('t', 'run-dead');
    const me = new FileTargetLock(dir, { clock, pid: 1234, host: 'h1', isProcessAlive: (pid) => pid !== 999_999 });
    const r = await me.acquire('t', 'run-new');
    expect(r).toMatchObject({ acquired: true, takenOverFrom: { runId: 'run-dead' } });
    expect((await me.holder('t'))?.runId).toBe('run-new');
  });

  it('waits for the lease of a holder on another host, then takes over', async () => {
    const other = new FileTargetLock(dir, { clock, host: 'h2', leaseMs: 60_000 });
    await other.acquire('t', 'run-other');
    const me = new FileTargetLock(dir, { clock, host: 'h1' });
    expect((await me.acquire('t', 'run-me')).acquired).toBe(false);
    now += 60_001;
    expect(await me.acquire('t', 'run-me')).toMatchObject({ acquired: true, takenOverFrom: { runId: 'run-other' } });
  });

  it('renews only a lock it holds', async () => {
    const lock = new FileTargetLock(dir, { clock, leaseMs: 1000 });
    await lock.acquire('t', 'run-a');
    now += 500;
    await lock.renew('t', 'run-a');
    expect(Date.parse((await lock.holder('t'))!.leaseExpiresAt)).toBe(now + 1000);
    await expect(lock.renew('t', 'run-b')).rejects.toThrow(LockLostError);
  });

  it('force-removes the lock of a dead holder and reports who held it', async () => {
    const dead = new FileTargetLock(dir, { clock, pid: 999_999, host: 'h1' });
    await dead.acquire('t', 'run-a');
    const lock = new FileTargetLock(dir, { clock, pid: 1234, host: 'h1', isProcessAlive: (pid) => pid !== 999_999 });
    expect(await lock.forceRelease('t')).toMatchObject({ status: 'removed', holder: { runId: 'run-a' } });
    expect(await lock.holder('t')).toBeUndefined();
    expect(await lock.forceRelease('t')).toEqual({ status: 'notLocked' });
  });

  it('refuses to force-remove the lock of a live process on this host, and leaves the file as it was', async () => {
    const lock = new FileTargetLock(dir, { clock });
    await lock.acquire('t', 'run-a');
    const before = await readFile(join(dir, 'locks', 't.json'), 'utf8');
    const unlocker = new FileTargetLock(dir, { clock, pid: 1 + process.pid });
    expect(await unlocker.forceRelease('t')).toMatchObject({
      status: 'refused',
      reason: 'processAlive',
      holder: { runId: 'run-a', pid: process.pid },
    });
    expect(await readFile(join(dir, 'locks', 't.json'), 'utf8')).toBe(before);
  });

  it('force-removes a torn lock file, and refuses while another process is taking the lock over', async () => {
    await mkdir(join(dir, 'locks'), { recursive: true });
    await writeFile(join(dir, 'locks', 't.json'), '{"runId":');
    await mkdir(join(dir, 'locks', 't.json.takeover'));
    const lock = new FileTargetLock(dir, { clock: { now: () => Date.now() } });
    expect(await lock.forceRelease('t')).toMatchObject({ status: 'refused', reason: 'takeoverInProgress' });
    await rmdir(join(dir, 'locks', 't.json.takeover'));
    expect(await lock.forceRelease('t')).toMatchObject({ status: 'removed', holder: { runId: 'unknown' } });
  });

  it('treats a torn lock file as stale', async () => {
    await mkdir(join(dir, 'locks'), { recursive: true });
    await writeFile(join(dir, 'locks', 't.json'), '{"runId":');
    const lock = new FileTargetLock(dir, { clock });
    expect((await lock.acquire('t', 'run-a')).acquired).toBe(true);
    expect(JSON.parse(await readFile(join(dir, 'locks', 't.json'), 'utf8')).runId).toBe('run-a');
  });

  it('lets exactly one of several processes racing for a stale lock win', async () => {
    // A stale lock left by a dead process; six processes try to take it over at the same moment.
    await mkdir(join(dir, 'locks'), { recursive: true });
    const stale = {
      runId: 'run-dead',
      pid: 999_999,
      host: (await import('node:os')).hostname(),
      leaseExpiresAt: '2099-01-01T00:00:00Z',
    };
    await writeFile(join(dir, 'locks', 't.json'), JSON.stringify(stale));
    const script = fileURLToPath(new URL('./lock-racer.mjs', import.meta.url));
    const lockModule = fileURLToPath(new URL('../../../dist/adapters/state/file-lock.js', import.meta.url));
    const results = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, [script, lockModule, dir, `run-${i}`]);
            let out = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.on('error', reject);
            child.on('close', () => resolve(out.trim()));
          }),
      ),
    );
    expect(results.filter((r) => r === 'acquired')).toHaveLength(1);
    const holder = JSON.parse(await readFile(join(dir, 'locks', 't.json'), 'utf8'));
    expect(results[Number(holder.runId.slice(4))]).toBe('acquired');
  });
});

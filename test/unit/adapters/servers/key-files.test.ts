import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createRunKeyDirectory,
  defaultKeyFilesRoot,
  ownerOfKeyDirectory,
  processAlive,
  sweepStaleKeyFiles,
} from '../../../../src/adapters/servers/key-files.js';

const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

/** The pid of a real process that has exited (and been reaped), so nothing lives under it now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

let base: string;
let root: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'cr-keyfiles-test-'));
  root = join(base, 'keys');
});
afterEach(() => rm(base, { recursive: true, force: true }));

describe('per-run key directories', () => {
  it('live under a per-user root in the OS temp dir', () => {
    expect(defaultKeyFilesRoot()).toBe(join(tmpdir(), `certrotate-keys-${process.getuid!()}`));
  });

  it('are 0700, named after the run and this process, hold 0600 files, and are gone after remove', async () => {
    const dir = await createRunKeyDirectory('2025-01-02T03-04-05Z-api-1a2b', { root });
    expect(await mode(root)).toBe('700');
    expect(await mode(dir.path)).toBe('700');
    const name = dir.path.slice(root.length + 1);
    expect(ownerOfKeyDirectory(name)).toEqual({ runId: '2025-01-02T03-04-05Z-api-1a2b', pid: process.pid });
    const file = await dir.write('key.pem', '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n');
    expect(await mode(file)).toBe('600');
    await expect(dir.write('key.pem', 'again')).rejects.toMatchObject({ code: 'EEXIST' });
    await dir.remove();
    await dir.remove();
    expect(await readdir(root)).toEqual([]);
  });

  it('make a run id safe for a file name, and say so when there is none', async () => {
    const odd = await createRunKeyDirectory('../../etc/x y', { root });
    expect(ownerOfKeyDirectory(odd.path.slice(root.length + 1))?.runId).toBe('______etc_x_y');
    const none = await createRunKeyDirectory(undefined, { root });
    expect(ownerOfKeyDirectory(none.path.slice(root.length + 1))?.runId).toBe('no-run');
    await Promise.all([odd.remove(), none.remove()]);
  });

  it('refuse a root that others can enter, or that is a symlink', async () => {
    await mkdir(root, { mode: 0o755 });
    await chmod(root, 0o755);
    await expect(createRunKeyDirectory('r', { root })).rejects.toThrow(/not a private directory/);
    const elsewhere = join(base, 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    const link = join(base, 'link');
    await symlink(elsewhere, link);
    await expect(createRunKeyDirectory('r', { root: link })).rejects.toThrow(/not a private directory/);
  });
});

describe('the sweep', () => {
  it('removes the directories of processes that are gone, keeps live ones and foreign names', async () => {
    const dead = await deadPid();
    expect(processAlive(dead)).toBe(false);
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await mkdir(root, { mode: 0o700 });
      const stale = join(root, `run-a.${dead}.0123456789ab`);
      const live = join(root, `run-b.${sleeper.pid}.0123456789ab`);
      const foreign = join(root, 'not-ours');
      for (const d of [stale, live, foreign]) {
        await mkdir(d, { mode: 0o700 });
        await writeFile(join(d, 'key.pem'), 'PRIVATE KEY', { mode: 0o600 });
      }
      const mine = await createRunKeyDirectory('run-c', { root });

      const swept = await sweepStaleKeyFiles({ root });
      expect(swept).toEqual([{ runId: 'run-a', pid: dead, path: stale }]);
      expect((await readdir(root)).sort()).toEqual(
        [live, foreign, mine.path].map((p) => p.slice(root.length + 1)).sort(),
      );
      // Idempotent, and safe when there is nothing (or no root) at all.
      expect(await sweepStaleKeyFiles({ root })).toEqual([]);
      expect(await sweepStaleKeyFiles({ root: join(base, 'none') })).toEqual([]);
      await mine.remove();
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('asks the liveness probe it is given (another host would answer differently)', async () => {
    await mkdir(root, { mode: 0o700 });
    await mkdir(join(root, `run-a.1.0123456789ab`));
    expect(await sweepStaleKeyFiles({ root, isAlive: () => true })).toEqual([]);
    expect(await sweepStaleKeyFiles({ root, isAlive: () => false })).toHaveLength(1);
  });
});

/**
 * The command target's program runs in its own process group: a timeout or an abort stops the program together with
 * everything it started, even a child that ignores SIGTERM. (A kill -9 of certrotate itself is covered end to end in
 * test/e2e/command-target-crash.test.ts, against the built CLI.)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runProgram } from '../../../../src/adapters/servers/command.js';
import { processAlive } from '../../../../src/adapters/servers/key-files.js';

const node = process.execPath;

/** A program that starts a grandchild ignoring SIGTERM, writes both pids and its process group, and hangs. */
const SPAWNER = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const g = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
fs.writeFileSync(process.argv[1], JSON.stringify({ program: process.pid, grandchild: g.pid, supervisor: process.ppid }));
setInterval(() => {}, 1000);
`;

async function until(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cr-pgroup-test-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const pidsIn = async (file: string) =>
  JSON.parse(await readFile(file, 'utf8')) as { program: number; grandchild: number; supervisor: number };

describe('the command program runs in its own process group', () => {
  it('passes argv, env, stdout, stderr and the exit code through the supervisor', async () => {
    const r = await runProgram(
      [node, '-e', 'console.log(process.argv[1], process.env.X); console.error("e"); process.exit(4)', 'arg'],
      { X: 'y' },
      20_000,
    );
    expect(r).toEqual({ exitCode: 4, signal: null, stdout: 'arg y\n', stderr: 'e\n', timedOut: false });
  });

  it('reports a program killed by a signal with that signal', async () => {
    const r = await runProgram([node, '-e', 'process.kill(process.pid, "SIGKILL")'], {}, 20_000);
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('reports a program that cannot be started with the error code of the spawn', async () => {
    await expect(runProgram(['/nonexistent/program'], {}, 20_000)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('on timeout, stops the whole group, a grandchild that ignores SIGTERM included', async () => {
    const file = join(dir, 'pids.json');
    let group: number | undefined;
    const running = runProgram([node, '-e', SPAWNER, file], {}, 6000, undefined, { onGroup: (g) => (group = g) });
    const r = await running;
    expect(r.timedOut).toBe(true);
    const pids = await pidsIn(file);
    expect(pids.supervisor).toBe(group);
    await until(() => !processAlive(pids.grandchild) && !processAlive(pids.program));
  });

  it('on abort (Ctrl-C), stops the whole group', async () => {
    const file = join(dir, 'pids.json');
    const controller = new AbortController();
    const running = runProgram([node, '-e', SPAWNER, file], {}, 60_000, controller.signal);
    await until(async () => (await readFile(file, 'utf8').catch(() => '')) !== '');
    const pids = await pidsIn(file);
    expect(processAlive(pids.grandchild)).toBe(true);
    controller.abort();
    const r = await running;
    expect(r.timedOut).toBe(false);
    await until(() => !processAlive(pids.grandchild) && !processAlive(pids.program));
  });
});

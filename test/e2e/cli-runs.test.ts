import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileRunStore } from '../../src/adapters/state/file-run-store.js';
import { FileTargetLock } from '../../src/adapters/state/file-lock.js';
import { runCli } from '../helpers/cli.js';

/** The pid of a process that has exited: a lock holder that is certainly dead on this host. */
function exitedPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0']);
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
}

const lockModule = fileURLToPath(new URL('../../dist/adapters/state/file-lock.js', import.meta.url));

/** A real process that takes the target's lock for `runId` and stays alive until killed. */
function liveHolder(stateDir: string, target: string, runId: string): Promise<ChildProcess> {
  const script = `
    const { FileTargetLock } = await import(process.argv[1]);
    const r = await new FileTargetLock(process.argv[2]).acquire(process.argv[3], process.argv[4]);
    process.stdout.write(r.acquired ? 'acquired\\n' : 'refused\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, lockModule, stateDir, target, runId]);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout!.once('data', (d: Buffer) =>
      d.toString().startsWith('acquired') ? resolve(child) : reject(new Error(`holder: ${d.toString()}`)),
    );
  });
}

const config = `tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
targets:
  - name: contoso-portal
    kind: power-pages
    environmentId: 0a1b2c3d-0000-0000-0000-000000000000
    websiteId: 5e6f7a8b-0000-0000-0000-000000000000
    app: { appId: 99999999-8888-7777-6666-555555555555 }
`;

describe('runs, show and unlock', () => {
  let dir: string;
  let cfg: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-cli-'));
    cfg = join(dir, 'certrotate.yaml');
    await writeFile(cfg, config);
    const store = new FileRunStore(join(dir, '.certrotate'));
    await store.appendJournal({
      time: '2026-11-28T08:00:00.000Z',
      runId: 'r-1',
      target: 'contoso-portal',
      step: 'preflight',
      event: 'started',
    });
    await store.appendJournal({
      time: '2026-11-28T08:00:01.000Z',
      runId: 'r-1',
      target: 'contoso-portal',
      step: 'awaitingOperator',
      event: 'parked',
      oldThumbprint: 'AAAA',
      detail: 'press Update key in the admin center',
    });
    await store.saveSnapshot({
      formatVersion: 1,
      machineVersion: 'test',
      runId: 'r-1',
      target: 'contoso-portal',
      updatedAt: '2026-11-28T08:00:01.000Z',
      snapshot: { value: 'awaitingOperator', status: 'active', context: { outcome: 'awaitingOperator' } },
    });
  });

  it('lists runs as the stable JSON document', async () => {
    const r = await runCli(['--config', cfg, '--json', 'runs']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      formatVersion: 1,
      runs: [
        {
          runId: 'r-1',
          target: 'contoso-portal',
          outcome: 'awaitingOperator',
          state: 'awaitingOperator',
          startedAt: '2026-11-28T08:00:00.000Z',
          updatedAt: '2026-11-28T08:00:01.000Z',
        },
      ],
    });
  });

  it('finds the config through CERTROTATE_CONFIG and shows a timeline', async () => {
    const r = await runCli(['show', 'r-1'], { env: { CERTROTATE_CONFIG: cfg } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Run r-1 — target contoso-portal — awaitingOperator');
    expect(r.stdout).toMatch(/awaitingOperator\s+parked\s+press Update key in the admin center — old AAAA/);
  });

  it('names an unknown run and a missing config with exit 1 and no stack trace', async () => {
    const unknown = await runCli(['--config', cfg, 'show', 'r-404']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/run "r-404" not found in .*certrotate runs/);
    const missing = await runCli(['--config', join(dir, 'nope.yaml'), 'runs']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.yaml does not exist/);
    for (const r of [unknown, missing]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses unlock without --force, then removes the lock and names its holder', async () => {
    // The holder's process has exited: the lock may go (a live holder's may not, see below).
    await new FileTargetLock(join(dir, '.certrotate'), { pid: await exitedPid() }).acquire('contoso-portal', 'r-1');
    const refused = await runCli(['--config', cfg, 'unlock', 'contoso-portal']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --force');
    const done = await runCli(['--config', cfg, '--json', 'unlock', 'contoso-portal', '--force']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({
      target: 'contoso-portal',
      removed: true,
      holder: { runId: 'r-1' },
    });
    expect(await new FileTargetLock(join(dir, '.certrotate')).holder('contoso-portal')).toBeUndefined();
  });

  let holder: ChildProcess | undefined;
  afterEach(() => {
    holder?.kill('SIGKILL');
    holder = undefined;
  });

  it('refuses unlock --force of a lock whose holder is alive on this host (exit 4), then removes it once dead', async () => {
    const stateDir = join(dir, '.certrotate');
    holder = await liveHolder(stateDir, 'contoso-portal', 'r-live');
    const refused = await runCli(['--config', cfg, 'unlock', 'contoso-portal', '--force']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`run r-live, whose process ${holder.pid} is still running on this host`);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(await new FileTargetLock(stateDir).holder('contoso-portal')).toMatchObject({
      runId: 'r-live',
      pid: holder.pid,
    });
    const exited = new Promise((resolve) => holder!.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const done = await runCli(['--config', cfg, '--json', 'unlock', 'contoso-portal', '--force']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ removed: true, holder: { runId: 'r-live' } });
  });

  it('rejects a bad --log-level naming the option, value and choices', async () => {
    const r = await runCli(['--config', cfg, '--log-level', 'loud', 'runs']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'option --log-level: got "loud"; expected one of trace, debug, info, warn, error, silent',
    );
  });
});

describe('runs with a corrupt snapshot', () => {
  it('lists the corrupt run as corrupt, with its target from the journal and the error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certrotate-cli-corrupt-'));
    const cfg = join(dir, 'certrotate.yaml');
    await writeFile(cfg, config);
    const store = new FileRunStore(join(dir, '.certrotate'));
    await store.appendJournal({
      time: '2026-11-28T09:00:00.000Z',
      runId: 'r-broken',
      target: 'contoso-portal',
      step: 'run',
      event: 'started',
    });
    await store.saveSnapshot({
      formatVersion: 1,
      machineVersion: 'test',
      runId: 'r-broken',
      target: 'contoso-portal',
      updatedAt: '2026-11-28T09:00:01.000Z',
      snapshot: { value: 'installing', status: 'active', context: {} },
    });
    await writeFile(join(dir, '.certrotate', 'runs', 'r-broken', 'snapshot.json'), '{"formatVersion": 1, "ru');
    const json = await runCli(['--config', cfg, '--json', 'runs']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).runs).toEqual([
      {
        runId: 'r-broken',
        target: 'contoso-portal',
        outcome: 'corrupt',
        state: 'corrupt',
        startedAt: '2026-11-28T09:00:00.000Z',
        updatedAt: '2026-11-28T09:00:00.000Z',
        error: expect.stringMatching(/r-broken\/snapshot\.json is not valid JSON/),
      },
    ]);
    const human = await runCli(['--config', cfg, 'runs']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/r-broken\s+contoso-portal\s+corrupt\s+corrupt/);
    expect(human.stdout).toMatch(/Run r-broken is corrupt: .*snapshot\.json is not valid JSON/);

    // show works from the journal, and says the snapshot is corrupt.
    const show = await runCli(['--config', cfg, '--json', 'show', 'r-broken']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      runId: 'r-broken',
      target: 'contoso-portal',
      outcome: 'corrupt',
      state: 'corrupt',
      error: expect.stringMatching(/snapshot\.json is not valid JSON/),
      journal: [{ step: 'run', event: 'started' }],
    });
    const showText = await runCli(['--config', cfg, 'show', 'r-broken']);
    expect(showText.code, showText.stderr).toBe(0);
    expect(showText.stdout).toMatch(/Its snapshot is corrupt .*; shown from its journal/);

    // The open-run guard fails closed: rotate of that target refuses (exit 4), naming the run and the recovery command.
    const rotate = await runCli(['--config', cfg, 'rotate', 'contoso-portal', '--yes']);
    expect(rotate.code, rotate.stderr).toBe(4);
    expect(rotate.stderr).toMatch(/target "contoso-portal" has run r-broken whose state cannot be read/);
    expect(rotate.stderr).toContain(`certrotate show r-broken --config ${cfg}`);
  });
});

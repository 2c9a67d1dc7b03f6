/**
 * No key outlives its step, even after a crash (issue 16, defect 4): a `command` server with `pemFile: true` whose
 * install hangs, and certrotate killed with SIGKILL in the middle of it.
 *
 * - Killed alone, certrotate leaves nothing: the program's supervisor sees its parent go, kills the program's
 *   process group and removes the key directory.
 * - Killed together with the supervisor (nothing left to clean up), the key directory stays until the next
 *   `resume`, whose sweep removes it before any step runs.
 *
 * Either way no file under the temp dir certrotate uses (TMPDIR here) holds `PRIVATE KEY` afterwards, the orphaned
 * program is gone, and the resumed run converges.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { YAMLSeq, YAMLMap } from 'yaml';
import { processAlive } from '../../src/adapters/servers/key-files.js';
import {
  cli,
  editConfig,
  listRuns,
  parseJson,
  spawnCli,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

/**
 * The operator's program: `current` prints the thumbprint in its state file; the first install records its pids and
 * PEM file and then hangs (certrotate is killed meanwhile); a later install takes the key.
 */
const PROGRAM = `
const fs = require('node:fs');
const [state, marker] = process.argv.slice(2);
if (process.env.CERTROTATE_ACTION === 'current') {
  process.stdout.write(fs.readFileSync(state, 'utf8'));
} else if (!fs.existsSync(marker)) {
  const facts = { pid: process.pid, supervisor: process.ppid, pemFile: process.env.CERTROTATE_PEM_FILE };
  fs.writeFileSync(marker + '.tmp', JSON.stringify(facts));
  fs.renameSync(marker + '.tmp', marker);
  setInterval(() => {}, 1000);
} else {
  fs.writeFileSync(state, process.env.CERTROTATE_THUMBPRINT + '\\n');
  console.log(process.env.CERTROTATE_THUMBPRINT);
}
`;

interface Facts {
  pid: number;
  supervisor: number;
  pemFile: string;
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every file under `dir` whose content holds a PEM private key. */
const PEM_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{64,}-----END [A-Z ]*PRIVATE KEY-----/;

async function filesWithPrivateKeys(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const hits: string[] = [];
  for (const e of entries.filter((x) => x.isFile())) {
    const path = join(e.parentPath, e.name);
    // A PEM key block with a body: Node's compile cache under TMPDIR holds certrotate's own source, whose PEM
    // header literals and patterns are no key.
    if (PEM_KEY_BLOCK.test(await readFile(path, 'utf8').catch(() => ''))) hits.push(path);
  }
  return hits;
}

describe('a command install killed with SIGKILL leaves no key and no orphan', () => {
  let sb: Sandbox;
  let config: string;
  let tmp: string;
  const work = (name: string) => join(sb.dir, 'cmd', name);
  const env = () => ({ TMPDIR: tmp });

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 2 });
    tmp = join(sb.dir, 'tmp');
    await mkdir(join(sb.dir, 'cmd'), { recursive: true });
    await mkdir(tmp, { recursive: true });
    await writeFile(work('program.cjs'), PROGRAM);
    for (const name of ['bench-0001', 'bench-0002']) {
      await writeFile(work(`${name}.state`), `${(await targetState(sb, name)).server!.thumbprint}\n`);
    }
    config = await editConfig(sb, 'command.yaml', (doc) => {
      for (const t of (doc.get('targets') as YAMLSeq<YAMLMap>).items) {
        const name = String(t.get('name'));
        if (!name.startsWith('bench-')) continue;
        t.set(
          'server',
          doc.createNode({
            kind: 'command',
            run: [process.execPath, work('program.cjs'), work(`${name}.state`), work(`${name}.marker`)],
            pemFile: true,
            timeout: '10m',
          }),
        );
      }
    });
  });
  afterAll(() => sb?.stop());

  /** Starts `rotate NAME`, waits until the program hangs in its install, and returns what it recorded. */
  async function rotateUntilInstallHangs(name: string) {
    const run = spawnCli(config, ['rotate', name, '--yes', '--json'], env());
    const marker = work(`${name}.marker`);
    await until(() => existsSync(marker), 90_000, `the install of ${name} starting`);
    const facts = JSON.parse(await readFile(marker, 'utf8')) as Facts;
    // The key is on disk while the program runs: in a 0700 directory of ours under TMPDIR, as a 0600 file.
    expect(facts.pemFile.startsWith(join(tmp, `certrotate-keys-${process.getuid!()}`))).toBe(true);
    expect(await readFile(facts.pemFile, 'utf8')).toContain('PRIVATE KEY');
    expect((await stat(dirname(facts.pemFile))).mode & 0o777).toBe(0o700);
    expect((await stat(facts.pemFile)).mode & 0o777).toBe(0o600);
    expect(processAlive(facts.pid)).toBe(true);
    return { run, facts };
  }

  async function resume(name: string) {
    const runId = (await listRuns(config)).find((r) => r.target === name && r.outcome === null)!.runId;
    const r = await cli(config, ['resume', runId, '--yes', '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<RunDocument>(r);
    expect(doc.outcome).toBe('succeeded');
    expect((await readFile(work(`${name}.state`), 'utf8')).trim()).toBe(doc.newThumbprint);
  }

  it('killed alone, certrotate takes the program and the key file with it', async () => {
    const { run, facts } = await rotateUntilInstallHangs('bench-0001');
    run.child.kill('SIGKILL');
    expect((await run.done).signal).toBe('SIGKILL');
    await until(() => !processAlive(facts.pid) && !processAlive(facts.supervisor), 15_000, 'the program ending');
    await until(() => !existsSync(dirname(facts.pemFile)), 15_000, 'the key directory going');
    expect(await filesWithPrivateKeys(tmp)).toEqual([]);
    await resume('bench-0001');
    expect(await filesWithPrivateKeys(tmp)).toEqual([]);
  }, 240_000);

  it('killed with its supervisor, the key directory waits for the sweep of the next resume', async () => {
    const { run, facts } = await rotateUntilInstallHangs('bench-0002');
    // Frozen, the supervisor cannot react to its parent's death; then the whole group goes, program included.
    process.kill(facts.supervisor, 'SIGSTOP');
    run.child.kill('SIGKILL');
    await run.done;
    process.kill(-facts.supervisor, 'SIGKILL');
    await until(() => !processAlive(facts.pid) && !processAlive(facts.supervisor), 15_000, 'the group ending');
    // Nothing cleaned up: this is what the sweep is for.
    expect(await filesWithPrivateKeys(tmp)).toEqual([facts.pemFile]);
    await resume('bench-0002');
    expect(await filesWithPrivateKeys(tmp)).toEqual([]);
    expect(existsSync(dirname(facts.pemFile))).toBe(false);
  }, 240_000);
});

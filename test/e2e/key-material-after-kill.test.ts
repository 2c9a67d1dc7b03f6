/**
 * No key outlives its step, even after a crash (issue 16, "How it is checked"; DESIGN I4): a keyvault rotation whose
 * server is a `command` program with `pemFile: true`, or a `file`, has its process group killed with SIGKILL in each
 * mutating step — once the sandbox answered the step's write where it has one, else as the step starts (the command
 * install: while the program holds the PEM file). Then everything certrotate writes to — the state dir, the child's
 * own TMPDIR, the debug log file, stdout and stderr, and the file server's directory beside its key file — is searched
 * for PEM private key headers and for the old and new keys themselves (as the vault serves them), right after the
 * kill and again after `resume` finished the run.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { YAMLMap, YAMLSeq } from 'yaml';
import { processAlive } from '../../src/adapters/servers/key-files.js';
import { certificateOfFile } from '../../src/adapters/servers/file.js';
import type { CliResult } from '../helpers/cli.js';
import {
  keyMaterialSearch,
  privateKeyBodies,
  textsUnder,
  vaultClient,
  versionKeyMaterial,
} from '../helpers/key-material.js';
import {
  cli,
  editConfig,
  killAtStep,
  killChild,
  killOnRequest,
  listRuns,
  parseJson,
  sandboxTarget,
  spawnCli,
  startE2eSandbox,
  targetState,
  type RequestEntry,
  type RunDocument,
  type Sandbox,
  type SandboxTarget,
} from '../helpers/sandbox.js';

/**
 * The operator's program: `current` prints the thumbprint in its state file; an install stores the new thumbprint.
 * Given a marker path, the first install records its pids and PEM file there and takes 30 s (it is killed meanwhile).
 */
const PROGRAM = `
const fs = require('node:fs');
const [state, marker] = process.argv.slice(2);
if (process.env.CERTROTATE_ACTION === 'current') {
  process.stdout.write(fs.readFileSync(state, 'utf8'));
} else {
  const done = () => {
    fs.writeFileSync(state, process.env.CERTROTATE_THUMBPRINT + '\\n');
    console.log(process.env.CERTROTATE_THUMBPRINT);
  };
  if (marker !== '-' && !fs.existsSync(marker)) {
    const facts = { pid: process.pid, supervisor: process.ppid, pemFile: process.env.CERTROTATE_PEM_FILE };
    fs.writeFileSync(marker + '.tmp', JSON.stringify(facts));
    fs.renameSync(marker + '.tmp', marker);
    setTimeout(done, 30000);
  } else done();
}
`;

type Kind = 'command' | 'file';
type Trigger = { write: (r: RequestEntry, t: SandboxTarget) => boolean } | { step: string };

/** The mutating steps of a keyvault rotation and where each is killed. */
const STEPS: [string, Trigger][] = [
  [
    'generateCertificate',
    { write: (r, t) => r.method === 'POST' && r.path === `/certificates/${t.certificate}/create` },
  ],
  [
    'attachKeyCredential',
    { write: (r, t) => r.method === 'POST' && r.path === `/v1.0/applications/${t.objectId}/addKey` },
  ],
  // No sandbox request: the command program's marker (file: its progress line) says the step is under way.
  ['installServerKey', { step: 'installServerKey' }],
  ['verifyNewKey', { step: 'verifyNewKey' }],
  ['retireOldKey', { write: (r, t) => r.method === 'POST' && r.path === `/v1.0/applications/${t.objectId}/removeKey` }],
];
const KINDS: Kind[] = ['command', 'file'];
const CASES = KINDS.flatMap((kind) => STEPS.map(([step, trigger]) => ({ kind, step, trigger })));
const targetOf = (i: number) => `bench-${String(i + 1).padStart(4, '0')}`;

/** A PEM key block with a body: Node's compile cache under TMPDIR holds certrotate's source, whose literals are no key. */
const PEM_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{64,}-----END [A-Z ]*PRIVATE KEY-----/;

interface Artifact {
  label: string;
  text: string;
  /** Node's compile cache (source text of certrotate itself): searched for key bodies, not for header literals. */
  compileCache?: boolean;
}

describe('key material after a kill -9 in every mutating step', () => {
  let sb: Sandbox;
  let config: string;
  const area = (...p: string[]) => join(sb.dir, 'kill', ...p);

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: CASES.length });
    await mkdir(area(), { recursive: true });
    await writeFile(area('program.cjs'), PROGRAM);
    for (const [i, c] of CASES.entries()) {
      const name = targetOf(i);
      await mkdir(area(name, 'tmp'), { recursive: true });
      await mkdir(area(name, 'server'), { recursive: true });
      const seeded = sb.servers.find((s) => s.name === name)!.current()!;
      if (c.kind === 'command') await writeFile(area(name, 'server', 'state'), `${seeded.thumbprint}\n`);
      else await writeFile(area(name, 'server', 's2s.pem'), seeded.pemBundle, { mode: 0o600 });
    }
    config = await editConfig(sb, 'kill.yaml', (doc) => {
      for (const t of (doc.get('targets') as YAMLSeq<YAMLMap>).items) {
        const name = String(t.get('name'));
        const i = CASES.findIndex((_, j) => targetOf(j) === name);
        if (i < 0) continue;
        const c = CASES[i]!;
        const marker = c.step === 'installServerKey' ? area(name, 'server', 'marker') : '-';
        t.set(
          'server',
          doc.createNode(
            c.kind === 'command'
              ? {
                  kind: 'command',
                  run: [process.execPath, area('program.cjs'), area(name, 'server', 'state'), marker],
                  pemFile: true,
                  timeout: '10m',
                }
              : { kind: 'file', path: area(name, 'server', 's2s.pem') },
          ),
        );
      }
    });
  });
  afterAll(() => sb?.stop());

  /** Runs `rotate` in its own process group with its own TMPDIR and debug log, killing the group at the step. */
  async function rotateKilled(name: string, kind: Kind, step: string, trigger: Trigger) {
    const spawnOpts = { env: { TMPDIR: area(name, 'tmp') }, processGroup: true };
    // No --json: the progress lines (`→ STEP started`) are what a step kill waits for.
    const args = ['--log-level', 'debug', '--log-file', area(name, 'rotate.log'), 'rotate', name, '--yes'];
    if ('write' in trigger) {
      const t = sandboxTarget(sb, name);
      return killOnRequest(sb, config, args, (r) => trigger.write(r, t), 'SIGKILL', spawnOpts);
    }
    if (kind === 'file' || step !== 'installServerKey') return killAtStep(config, args, step, 0, spawnOpts);
    // The command install: killed while the program runs with the PEM file on disk.
    const run = spawnCli(config, args, spawnOpts.env, spawnOpts);
    const marker = area(name, 'server', 'marker');
    const poll = setInterval(() => {
      if (existsSync(marker)) {
        clearInterval(poll);
        killChild(run, 'SIGKILL');
      }
    }, 5);
    const result = await run.done;
    clearInterval(poll);
    const facts = JSON.parse(await readFile(marker, 'utf8')) as { pid: number; supervisor: number; pemFile: string };
    expect(facts.pemFile.startsWith(area(name, 'tmp'))).toBe(true);
    // The supervisor saw certrotate go: the program's group and the key directory go with it.
    const deadline = Date.now() + 15_000;
    while (processAlive(facts.pid) || processAlive(facts.supervisor) || existsSync(facts.pemFile)) {
      if (Date.now() > deadline) throw new Error(`the program of ${name} or its PEM file outlived certrotate`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { result, reached: true };
  }

  /** Everything certrotate wrote to for target `name`, and the shared state dir. */
  async function artifacts(name: string, kind: Kind, outputs: CliResult[]): Promise<Artifact[]> {
    const tmp = await textsUnder(area(name, 'tmp'));
    const server = (await textsUnder(area(name, 'server'))).filter(
      // The file server's key store is where its key belongs; anything else beside it (a torn temp file) is not.
      (a) => kind !== 'file' || !['s2s.pem', 's2s.pem.previous'].includes(basename(a.label)),
    );
    const logs = (await textsUnder(area(name))).filter((a) => a.label.endsWith('.log'));
    return [
      ...(await textsUnder(join(sb.dir, '.certrotate'))),
      ...tmp.map((a) => ({ ...a, compileCache: a.label.includes('node-compile-cache') })),
      ...server,
      ...logs,
      ...outputs.flatMap((r, i) => [
        { label: `output ${i} stdout`, text: r.stdout },
        { label: `output ${i} stderr`, text: r.stderr },
      ]),
    ];
  }

  it.concurrent.each(CASES.map((c, i) => [c.kind, c.step, i] as const))(
    '%s server, killed in %s: no key material before or after resume',
    async (kind, step, i) => {
      const name = targetOf(i);
      const t = sandboxTarget(sb, name);
      const oldKeys = privateKeyBodies(sb.servers.find((s) => s.name === name)!.current()!.pemBundle);
      const { result, reached } = await rotateKilled(name, kind, step, CASES[i]!.trigger);
      expect(reached, result.stderr).toBe(true);
      expect(result.signal, result.stderr).toBe('SIGKILL');
      const afterKill = await artifacts(name, kind, [result]);

      const runId = (await listRuns(config)).find((r) => r.target === name && r.outcome === null)?.runId;
      expect(runId, `${step}: a resumable run`).toBeDefined();
      const resumed = await cli(
        config,
        ['--log-level', 'debug', '--log-file', area(name, 'resume.log'), 'resume', runId!, '--yes', '--json'],
        { env: { TMPDIR: area(name, 'tmp') }, timeoutMs: 200_000 },
      );
      expect(resumed.code, resumed.stderr).toBe(0);
      const doc = parseJson<RunDocument>(resumed);
      expect(doc.outcome).toBe('succeeded');
      const installed =
        kind === 'command'
          ? (await readFile(area(name, 'server', 'state'), 'utf8')).trim()
          : (await certificateOfFile(area(name, 'server', 's2s.pem')))?.thumbprint;
      expect(installed).toBe(doc.newThumbprint);
      const afterResume = await artifacts(name, kind, [result, resumed]);

      // The new key as the vault serves it (PEM body; PKCS#12 base64 too where the secret is one).
      const version = (await targetState(sb, name)).versions.find((v) => v.thumbprint === doc.newThumbprint)!;
      const newKeys = await versionKeyMaterial(vaultClient(sb, t.vaultUrl!), t.certificate!, version.version);
      expect(newKeys.length).toBeGreaterThan(0);
      const holdsKey = keyMaterialSearch([...oldKeys, ...newKeys]);
      // The search finds the keys where they belong: a file server's key file holds the new one.
      if (kind === 'file') expect(holdsKey(await readFile(area(name, 'server', 's2s.pem'), 'utf8'))).toBe(true);
      expect(holdsKey(`{"detail":"${newKeys[0]!.slice(100, 500).replace(/.{64}/g, '$&\\n')}"}`)).toBe(true);

      for (const [when, list] of [
        ['after the kill', afterKill],
        ['after resume', afterResume],
      ] as const) {
        expect(list.some((a) => a.label.endsWith('journal.jsonl'))).toBe(true);
        for (const a of list) {
          const header = a.compileCache ? PEM_KEY_BLOCK : /PRIVATE KEY-----/;
          expect(header.test(a.text), `${when}: ${a.label} holds a PEM private key`).toBe(false);
          expect(holdsKey(a.text), `${when}: ${a.label} holds key material`).toBe(false);
        }
      }
    },
    120_000,
  );
});

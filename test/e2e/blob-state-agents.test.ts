/**
 * Two agents, one blob container (state.kind azure-blob on the sandbox's Azurite), no shared filesystem: each CLI
 * runs from its own directory with its own config. Of two rotations of one target started at once exactly one runs;
 * a run killed on one agent is resumed by the other; and a storage outage mid-run stops the run with a clear
 * message, losing nothing, so that `resume` converges once storage is back. I1–I3 hold over the sandbox's history.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { createOperatorCredential } from '../../src/adapters/azure/credentials.js';
import { trustExtraCa } from '../../src/adapters/azure/trust.js';
import { BlobTargetLock } from '../../src/adapters/state/azure-blob-lock.js';
import { openContainer } from '../../src/adapters/state/azure-blob-storage.js';
import { FileTargetLock } from '../../src/adapters/state/file-lock.js';
import { loadConfig } from '../../src/config/load.js';
import {
  checkI1,
  checkI3,
  cli,
  getHistory,
  getState,
  killAtStep,
  listRuns,
  parseJson,
  sandboxTarget,
  spawnCli,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

const TIMEOUT = 180_000;

describe('two agents sharing run state in one blob container', () => {
  let sb: Sandbox;
  let agentA: string;
  let agentB: string;
  const dirs: string[] = [];

  /** A copy of the sandbox's config in a directory of its own (its CA by absolute path): one agent's checkout. */
  async function agentConfig(name: string, state?: Record<string, unknown>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `certrotate-${name}-`));
    dirs.push(dir);
    const doc = parseDocument(await readFile(sb.configPath, 'utf8'));
    doc.setIn(['cloud', 'caFile'], join(sb.dir, 'ca.pem'));
    if (state) doc.set('state', doc.createNode(state));
    const path = join(dir, 'certrotate.yaml');
    await writeFile(path, doc.toString(), { mode: 0o600 });
    return path;
  }

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 3, storage: true });
    agentA = await agentConfig('agent-a');
    agentB = await agentConfig('agent-b');
  }, 120_000);
  afterAll(async () => {
    await sb?.stop();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function invariants(target: string, runIds: string[]) {
    const t = sandboxTarget(sb, target);
    const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
    const ref = { appId: t.appId, server: target };
    expect(checkI1(history, ref)).toEqual([]);
    expect(checkI3(history, state, { ...ref, vaultUrl: t.vaultUrl!, certificate: t.certificate!, runIds })).toEqual([]);
  }

  it(
    'the sandbox writes state.kind azure-blob, and both agents list the same runs',
    async () => {
      const text = await readFile(sb.configPath, 'utf8');
      expect(text).toMatch(/state:\n\s+kind: azure-blob\n\s+accountUrl: https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1/);
      const runs = await cli(agentA, ['runs']);
      expect(runs.code, runs.stderr).toBe(0);
      expect(runs.stdout).toContain(`No runs yet in ${sb.storage!.accountUrl}/certrotate`);
    },
    TIMEOUT,
  );

  it(
    'of two agents rotating one target at once, one runs and the other exits 4 naming it',
    async () => {
      const target = 'bench-0001';
      const a = spawnCli(agentA, ['rotate', target, '--yes', '--json']);
      const b = spawnCli(agentB, ['rotate', target, '--yes', '--json']);
      const results = await Promise.all([a.done, b.done]);
      const winner = results.find((r) => r.code === 0);
      const loser = results.find((r) => r.code !== 0);
      expect(winner, results.map((r) => `${r.code}: ${r.stderr}`).join('\n')).toBeDefined();
      expect(loser?.code, loser?.stderr).toBe(4);
      const doc = parseJson<RunDocument>(winner!);
      expect(doc.outcome).toBe('succeeded');
      expect(loser!.stderr).toContain(doc.runId);
      // Either agent sees the one run, from the container.
      for (const agent of [agentA, agentB]) {
        expect((await listRuns(agent)).filter((r) => r.target === target).map((r) => r.runId)).toEqual([doc.runId]);
      }
      expect((await targetState(sb, target)).app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
      await invariants(target, [doc.runId]);
      const open = await cli(agentB, ['--json', 'runs', '--open']);
      expect(open.code, open.stderr).toBe(0);
      expect(parseJson<{ runs: { target: string }[] }>(open).runs.filter((r) => r.target === target)).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'a run killed on agent A is refused to a new rotation on B and resumed by B to the end',
    async () => {
      const target = 'contoso-api';
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      const killed = await killAtStep(agentA, ['rotate', target, '--yes'], 'generateCertificate', 50);
      expect(killed.result.signal, killed.result.stderr).toBe('SIGKILL');
      const runId = (await listRuns(agentB)).find((r) => r.target === target)?.runId;
      expect(runId).toBeDefined();
      const refused = await cli(agentB, ['rotate', target, '--yes', '--json']);
      expect(refused.code, refused.stderr).toBe(4);
      expect(refused.stderr).toContain(`certrotate resume ${runId}`);
      const byTarget = await cli(agentB, ['--json', 'runs', '--target', target, '--open']);
      expect(parseJson<{ runs: { runId: string }[] }>(byTarget).runs.map((r) => r.runId)).toEqual([runId]);
      const resumed = await cli(agentB, ['resume', runId!, '--yes', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      const doc = parseJson<RunDocument>(resumed);
      expect(doc).toMatchObject({ runId, outcome: 'succeeded', oldThumbprint });
      await invariants(target, [runId!]);
      // Agent A's journal view is the same run, to its end.
      const shown = await cli(agentA, ['show', runId!]);
      expect(shown.code, shown.stderr).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'a storage outage mid-run stops the run with a clear message; resume converges once storage is back',
    async () => {
      const target = 'bench-0002';
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      // Progress lines (no --json) tell where the run is: storage stops while Key Vault is issuing the certificate.
      const run = spawnCli(agentA, ['rotate', target, '--yes']);
      let stopping: Promise<void> | undefined;
      let seen = '';
      run.child.stderr!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (!stopping && seen.includes('generateCertificate waiting')) stopping = sb.storage!.stop();
      });
      const result = await run.done;
      expect(stopping, result.stderr).toBeDefined();
      await stopping;
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.stderr).toMatch(
        /state storage https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/certrotate\/.* failed/,
      );
      expect(result.stderr).toMatch(/certrotate resume \S+/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      // Nothing past the failed write happened: the app still has only its old key.
      expect((await targetState(sb, target)).app.keyCredentials.map((k) => k.thumbprint)).toEqual([oldThumbprint]);

      await sb.storage!.restart();
      const runId = (await listRuns(agentB)).find((r) => r.target === target)?.runId;
      expect(runId).toBeDefined();
      const resumed = await cli(agentB, ['resume', runId!, '--yes', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(parseJson<RunDocument>(resumed)).toMatchObject({ runId, outcome: 'succeeded', oldThumbprint });
      await invariants(target, [runId!]);
    },
    TIMEOUT,
  );

  it(
    'state migrate copies local runs into the container (refused while a run is active), and B resumes one',
    async () => {
      const target = 'bench-0003';
      const local = await agentConfig('agent-local', { kind: 'file', dir: '.certrotate' });
      const localState = join(local, '..', '.certrotate');
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      const killed = await killAtStep(local, ['rotate', target, '--yes'], 'generateCertificate', 50);
      expect(killed.result.signal, killed.result.stderr).toBe('SIGKILL');
      const [run] = await listRuns(local);
      expect(run?.target).toBe(target);
      expect((await listRuns(agentB)).map((r) => r.runId)).not.toContain(run!.runId);

      const { accountUrl } = sb.storage!;
      const migrate = [
        'state',
        'migrate',
        '--to',
        'azure-blob',
        '--account-url',
        accountUrl,
        '--container',
        'certrotate',
      ];
      // A live holder of a lock (this test process) is an active run: refused, exit 4, nothing copied.
      const live = new FileTargetLock(localState);
      await live.acquire('contoso-api', 'run-active');
      const refused = await cli(local, migrate);
      expect(refused.code, refused.stderr).toBe(4);
      expect(refused.stderr).toContain('run run-active is active on target "contoso-api"');
      await live.release('contoso-api', 'run-active');

      const copied = await cli(local, ['--json', ...migrate]);
      expect(copied.code, copied.stderr).toBe(0);
      expect(parseJson<{ copied: string[] }>(copied).copied).toEqual([run!.runId]);
      const again = await cli(local, ['--json', ...migrate]);
      expect(parseJson<{ copied: string[]; skipped: string[] }>(again)).toMatchObject({
        copied: [],
        skipped: [run!.runId],
      });
      const wrongKind = await cli(local, [...migrate.slice(0, 3), 'file']);
      expect(wrongKind.code).toBe(1);
      expect(wrongKind.stderr).toContain('option --to: got "file"; expected azure-blob');

      // The interrupted run, with its journal, is now in the container: agent B resumes it to the end.
      const journal = await cli(agentB, ['show', run!.runId]);
      expect(journal.code, journal.stderr).toBe(0);
      const resumed = await cli(agentB, ['resume', run!.runId, '--yes', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(parseJson<RunDocument>(resumed)).toMatchObject({ runId: run!.runId, outcome: 'succeeded', oldThumbprint });
      await invariants(target, [run!.runId]);
    },
    TIMEOUT,
  );

  it(
    'unlock --force names a holder on another agent and leaves its lease; --break-lease breaks it',
    async () => {
      const { config } = await loadConfig(agentB);
      trustExtraCa(sb.caPem);
      const container = openContainer(
        { accountUrl: sb.storage!.accountUrl, container: 'certrotate', prefix: '' },
        createOperatorCredential(config, { caPem: sb.caPem }),
      );
      const far = new BlobTargetLock(container, { host: 'agent-far', pid: 777 });
      expect(await far.acquire('bench-0001', 'run-far')).toEqual({ acquired: true });
      const refused = await cli(agentA, ['unlock', 'bench-0001', '--force']);
      expect(refused.code, refused.stderr).toBe(4);
      expect(refused.stderr).toContain('locked by run run-far (pid 777 on agent-far)');
      expect(refused.stderr).toContain('--break-lease');
      const broken = await cli(agentA, ['--json', 'unlock', 'bench-0001', '--force', '--break-lease']);
      expect(broken.code, broken.stderr).toBe(0);
      expect(broken.stderr).toContain('target bench-0001 is held by run run-far (pid 777 on agent-far');
      expect(parseJson<{ removed: boolean; holder: { runId: string } }>(broken)).toMatchObject({
        removed: true,
        holder: { runId: 'run-far' },
      });
      await expect(far.renew('bench-0001', 'run-far')).rejects.toThrow(/no longer holds it/);
    },
    TIMEOUT,
  );
});

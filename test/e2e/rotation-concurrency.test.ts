/**
 * I5 one run per target, from the command line: of two rotations of one target started at once, one runs and the
 * other exits 4 naming the first's run id; a rotation started while an interrupted run is open is refused the same
 * way and names the run to resume. The refused command changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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

/** Cases run side by side on 2 cores: each gets room beyond the default 60 s. */
const CONCURRENT_TIMEOUT = 150_000;

describe('two rotations of one target', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 3 });
  });
  afterAll(() => sb?.stop());

  it.concurrent.each([
    ['started together', 'bench-0001', 0],
    ['the second started mid-run', 'bench-0002', 2500],
  ])(
    '%s: one exits 4 and names the other',
    async (_label, target, delayMs) => {
      const first = spawnCli(sb.configPath, ['rotate', target, '--yes', '--json']);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const second = spawnCli(sb.configPath, ['rotate', target, '--yes', '--json']);
      const results = await Promise.all([first.done, second.done]);
      const winner = results.find((r) => r.code === 0);
      const loser = results.find((r) => r.code !== 0);
      expect(winner, results.map((r) => `${r.code}: ${r.stderr}`).join('\n')).toBeDefined();
      expect(loser?.code, loser?.stderr).toBe(4);
      const doc = parseJson<RunDocument>(winner!);
      expect(doc.outcome).toBe('succeeded');
      expect(loser!.stderr).toContain(doc.runId);
      expect(loser!.stderr).not.toMatch(/\n\s+at /);
      // The refused run left no trace: one run on record, one new version, one new credential.
      expect((await listRuns(sb.configPath)).filter((r) => r.target === target).map((r) => r.runId)).toEqual([
        doc.runId,
      ]);
      const t = sandboxTarget(sb, target);
      const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
      expect(
        checkI3(history, state, {
          appId: t.appId,
          server: target,
          vaultUrl: t.vaultUrl!,
          certificate: t.certificate!,
          runIds: [doc.runId],
        }),
      ).toEqual([]);
      expect((await targetState(sb, target)).app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
    },
    CONCURRENT_TIMEOUT,
  );

  it.concurrent(
    'refuses a new rotation while a killed run is open, naming the run to resume',
    async () => {
      // Killed early in generateCertificate: well before attachKeyCredential, whose resume would wait out Graph's read lag.
      const killed = await killAtStep(sb.configPath, ['rotate', 'contoso-api', '--yes'], 'generateCertificate', 50);
      expect(killed.result.signal, killed.result.stderr).toBe('SIGKILL');
      const runId = (await listRuns(sb.configPath)).find((r) => r.target === 'contoso-api')?.runId;
      expect(runId).toBeDefined();
      const refused = await cli(sb.configPath, ['rotate', 'contoso-api', '--yes', '--json']);
      expect(refused.code, refused.stderr).toBe(4);
      expect(refused.stderr).toContain(runId);
      expect(refused.stderr).toContain(`certrotate resume ${runId}`);
      // An interrupted run cannot be rolled back (only a parked one can), so the message must not offer it.
      expect(refused.stderr).not.toContain('certrotate rollback');
      const rollback = await cli(sb.configPath, ['rollback', runId!, '--yes']);
      expect(rollback.code).toBe(1);
      expect(rollback.stderr).toMatch(/is not parked \(it stopped during step “[^”]+” \([a-zA-Z]+\)/);
      expect(rollback.stderr).toContain(`certrotate resume ${runId}`);
      const resumed = await cli(sb.configPath, ['resume', runId!, '--yes', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(parseJson<RunDocument>(resumed).outcome).toBe('succeeded');
    },
    CONCURRENT_TIMEOUT,
  );

  it.concurrent(
    'refuses to resume a run whose own process is still driving it',
    async () => {
      const target = 'bench-0003';
      const run = spawnCli(sb.configPath, ['rotate', target, '--yes', '--json']);
      let runId: string | undefined;
      for (let i = 0; i < 100 && !runId; i++) {
        await new Promise((r) => setTimeout(r, 100));
        runId = (await listRuns(sb.configPath)).find((r) => r.target === target)?.runId;
      }
      expect(runId).toBeDefined();
      // The rotation is still running: a resume of the same run would make two processes drive it at once.
      const resumed = await cli(sb.configPath, ['resume', runId!, '--yes', '--json']);
      const first = await run.done;
      expect(resumed.code, resumed.stderr).toBe(4);
      expect(resumed.stderr).toContain(`locked by run ${runId}`);
      expect(first.code, first.stderr).toBe(0);
      const doc = parseJson<RunDocument>(first);
      expect(doc.outcome).toBe('succeeded');
      const t = sandboxTarget(sb, target);
      const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
      const ref = { appId: t.appId, server: target, vaultUrl: t.vaultUrl!, certificate: t.certificate! };
      expect(checkI3(history, state, { ...ref, runIds: [doc.runId] })).toEqual([]);
    },
    CONCURRENT_TIMEOUT,
  );
});

/**
 * A rotation killed with SIGKILL at moments spread over its whole duration, then `resume RUN_ID --yes`: it converges
 * to one new Key Vault version and one new key credential, and I1 holds throughout (DESIGN §2, §4).
 *
 * Each seed rotates its own bench target, so the checks of one kill cannot be masked by another. The kill times are
 * stratified over a baseline run's duration (one seed per slice, a seeded-random point within it), so together the
 * seeds hit the early, middle and late steps while each stays reproducible from its seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkI1,
  checkI2,
  checkI3,
  cli,
  getHistory,
  getState,
  listRuns,
  parseJson,
  sandboxTarget,
  spawnCli,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

/** mulberry32: a tiny seeded PRNG, so a failing seed reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [11, 23, 37, 41, 59];

describe('rotation killed with SIGKILL, then resumed', () => {
  let sb: Sandbox;
  let baselineMs: number;
  /** Where each kill landed: the state the run's last snapshot names. */
  const landed: string[] = [];

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: SEEDS.length + 1 });
    // The baseline: how long an uninterrupted rotation takes here, from process start to exit.
    const started = Date.now();
    const r = await cli(sb.configPath, ['rotate', 'bench-0001', '--yes', '--json']);
    baselineMs = Date.now() - started;
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => sb?.stop());

  it.each(SEEDS.map((seed, i) => [seed, i]))('seed %i converges after a kill', async (seed, slice) => {
    const target = `bench-${String(slice + 2).padStart(4, '0')}`;
    const t = sandboxTarget(sb, target);
    const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
    const killAt = Math.round(((slice + prng(seed)()) / SEEDS.length) * baselineMs);

    const run = spawnCli(sb.configPath, ['rotate', target, '--yes', '--json']);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), killAt);
    const killed = await run.done;
    clearTimeout(timer);
    const context = `seed ${seed}: kill at ${killAt} ms of ${baselineMs} ms (${killed.signal ?? `exit ${killed.code}`})`;

    const runIds: string[] = [];
    const runs = (await listRuns(sb.configPath)).filter((r) => r.target === target);
    let final: RunDocument;
    if (runs.length === 0) {
      // Killed before the run's first snapshot: nothing is resumable, and nothing may have been changed either.
      landed.push('(no snapshot)');
      expect((await targetState(sb, target)).versions, context).toHaveLength(1);
      const again = await cli(sb.configPath, ['rotate', target, '--yes', '--json']);
      expect(again.code, `${context}\n${again.stderr}`).toBe(0);
      final = parseJson<RunDocument>(again);
    } else {
      landed.push(runs[0]!.outcome ?? runs[0]!.state);
      expect(runs, context).toHaveLength(1);
      runIds.push(runs[0]!.runId);
      const resumed = await cli(sb.configPath, ['resume', runs[0]!.runId, '--yes', '--json']);
      expect(resumed.code, `${context}\n${resumed.stderr}`).toBe(0);
      final = parseJson<RunDocument>(resumed);
      expect(final.runId).toBe(runs[0]!.runId);
    }
    runIds.push(final.runId);
    expect(final.outcome, context).toBe('succeeded');
    expect(final.oldThumbprint, context).toBe(oldThumbprint);

    const { app, server, versions } = await targetState(sb, target);
    expect(
      app.keyCredentials.map((k) => k.thumbprint),
      context,
    ).toEqual([final.newThumbprint]);
    expect(server!.thumbprint, context).toBe(final.newThumbprint);
    expect(versions.find((v) => v.thumbprint === oldThumbprint)?.enabled, context).toBe(false);

    const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
    const ref = { appId: t.appId, server: target };
    expect(checkI1(history, ref), context).toEqual([]);
    expect(checkI2(history, { ...ref, oldThumbprint, newThumbprint: final.newThumbprint! }), context).toEqual([]);
    expect(
      checkI3(history, state, { ...ref, vaultUrl: t.vaultUrl!, certificate: t.certificate!, runIds }),
      context,
    ).toEqual([]);
    // Nothing is left to do for the target: its new key is not due.
    const plan = await cli(sb.configPath, ['plan', target, '--detailed-exitcode']);
    expect(plan.code, `${context}\n${plan.stdout}${plan.stderr}`).toBe(0);
  });

  it('spread the kills over different steps of the run', () => {
    // Guards the test itself: kills that all landed in one place would prove little.
    expect(new Set(landed).size, landed.join(', ')).toBeGreaterThanOrEqual(3);
  });
});

/**
 * A rotation killed with SIGKILL at moments spread over its whole duration, then `resume RUN_ID --yes`: it converges
 * to one new Key Vault version and one new key credential, and I1 holds throughout (DESIGN §2, §4).
 *
 * Each seed rotates its own bench target, so the checks of one kill cannot be masked by another. The kill times are
 * stratified over a baseline run's duration (one seed per slice, a seeded-random point within it), so together the
 * seeds hit the early, middle and late steps while each stays reproducible from its seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, prng, resumeAndCheck, spawnCli, startE2eSandbox, targetState, type Sandbox } from '../helpers/sandbox.js';

/**
 * A kill that lands in attachKeyCredential before its addKey left costs the resume Graph's 2-minute read-lag window,
 * by design. The seeds run one after another, as the baseline did, so each kill lands where its slice says: side by
 * side the runs slow down and the late slices drift into that window.
 */
const SEED_TIMEOUT = 240_000;

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

  it.each(SEEDS.map((seed, i) => [seed, i]))(
    'seed %i converges after a kill',
    async (seed, slice) => {
      const target = `bench-${String(slice + 2).padStart(4, '0')}`;
      const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
      const killAt = Math.round(((slice + prng(seed)()) / SEEDS.length) * baselineMs);

      const run = spawnCli(sb.configPath, ['rotate', target, '--yes', '--json']);
      const timer = setTimeout(() => run.child.kill('SIGKILL'), killAt);
      const killed = await run.done;
      clearTimeout(timer);
      const context = `seed ${seed}: kill at ${killAt} ms of ${baselineMs} ms (${killed.signal ?? `exit ${killed.code}`})`;

      landed.push(await resumeAndCheck(sb, target, oldThumbprint, context));
    },
    SEED_TIMEOUT,
  );

  it('spread the kills over different steps of the run', () => {
    // Guards the test itself: kills that all landed in one place would prove little.
    expect(new Set(landed).size, landed.join(', ')).toBeGreaterThanOrEqual(3);
  });
});

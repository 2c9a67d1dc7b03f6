/**
 * Parked runs and rollback from the command line: a retirement grace period parks the run (exit 3) with both keys on
 * the app; resuming early parks again; a second rotation is refused naming the parked run and offering rollback;
 * `rollback RUN_ID --yes` puts the old key back everywhere. And a run killed while it rolls back by itself finishes
 * the rollback when resumed. I1 holds throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addFaults,
  checkI1,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  killAtStep,
  listRuns,
  parseJson,
  sandboxTarget,
  serverHealth,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

/** The old key alone on the app, on the server and working; every version the run made disabled. */
async function expectOldKeyRestored(sb: Sandbox, target: string, oldThumbprint: string) {
  const { app, server, versions } = await targetState(sb, target);
  expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([oldThumbprint]);
  expect(server!.thumbprint).toBe(oldThumbprint);
  for (const v of versions) expect(v.enabled).toBe(v.thumbprint === oldThumbprint);
  const health = await serverHealth(sb, target);
  expect(health.status, health.body).toBe(200);
  const t = sandboxTarget(sb, target);
  expect(checkI1(await getHistory(sb), { appId: t.appId, server: target })).toEqual([]);
}

describe('parked runs and rollback', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 1 });
  });
  afterAll(() => sb?.stop());

  it('parks for the retirement grace period, refuses a second rotation, and rolls back on request', async () => {
    const grace = await editConfig(sb, 'grace.yaml', (d) => d.setIn(['defaults', 'retireAfter'], '1h'));
    const oldThumbprint = (await targetState(sb, 'contoso-api')).server!.thumbprint;

    const parked = await cli(grace, ['rotate', 'contoso-api', '--yes', '--json']);
    expect(parked.code, parked.stderr).toBe(3);
    const doc = parseJson<RunDocument>(parked);
    expect(doc.outcome).toBe('awaitingRetirement');
    // Verified but not retired: both keys on the app, the server on the new one.
    const during = await targetState(sb, 'contoso-api');
    expect(during.app.keyCredentials.map((k) => k.thumbprint).sort()).toEqual(
      [oldThumbprint, doc.newThumbprint].sort(),
    );
    expect(during.server!.thumbprint).toBe(doc.newThumbprint);

    const early = await cli(grace, ['resume', doc.runId, '--yes', '--json']);
    expect(early.code, early.stderr).toBe(3);
    expect(parseJson<RunDocument>(early).outcome).toBe('awaitingRetirement');
    expect((await targetState(sb, 'contoso-api')).app.keyCredentials).toHaveLength(2);

    const second = await cli(grace, ['rotate', 'contoso-api', '--yes', '--json']);
    expect(second.code).toBe(4);
    expect(second.stderr).toContain(doc.runId);
    expect(second.stderr).toContain(`certrotate rollback ${doc.runId}`);

    const rolledBack = await cli(grace, ['rollback', doc.runId, '--yes', '--json']);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(parseJson<RunDocument>(rolledBack).outcome).toBe('rolledBack');
    await expectOldKeyRestored(sb, 'contoso-api', oldThumbprint);
    expect((await listRuns(grace)).find((r) => r.runId === doc.runId)?.outcome).toBe('rolledBack');
  });

  it('finishes a rollback that was killed half way when resumed', async () => {
    const target = 'bench-0001';
    const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
    const shortVerify = await editConfig(sb, 'short-verify.yaml', (d) => d.setIn(['defaults', 'verifyTimeout'], '3s'));
    // WhoAmI refuses the new key's token for good (a rejection, not an outage), so the run rolls back by itself;
    // kill it as it does.
    await addFaults(sb, [{ service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 403 }]);
    let killed;
    try {
      killed = await killAtStep(shortVerify, ['rotate', target, '--yes'], 'rollBackRotation', 20);
    } finally {
      await clearFaults(sb);
    }
    expect(killed.reached, killed.result.stderr).toBe(true);
    expect(killed.result.signal).toBe('SIGKILL');
    const [run] = (await listRuns(shortVerify)).filter((r) => r.target === target);
    expect(run?.outcome).toBeNull();
    // Had the kill come after the new key left the app, the resumed rollback would read Graph for its 2-minute
    // read-lag window before believing it gone (by design): allow for it.
    const resumed = await cli(shortVerify, ['resume', run!.runId, '--yes', '--json'], { timeoutMs: 200_000 });
    const doc = parseJson<RunDocument>(resumed);
    expect(doc.outcome, resumed.stderr).toBe('rolledBack');
    expect(resumed.code).toBe(1);
    await expectOldKeyRestored(sb, target, oldThumbprint);
  }, 240_000);
});

/**
 * Outage ≠ rejection, against the sandbox (issue 16, defect 8): Dataverse answering 503 for the whole verify window
 * parks the run (exit 3, `serviceUnavailable`, the message naming Dataverse and the resume command) instead of
 * rolling it back — the server's key moves once, never back (the sandbox's /history) — and once Dataverse is back,
 * `resume` verifies again and the rotation succeeds. A rejection still rolls back: rotation-faults.test.ts and
 * rotation-rollback.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addFaults,
  checkI1,
  checkI2,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  listRuns,
  parseJson,
  sandboxTarget,
  serverHealth,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

describe('verification while Dataverse is down', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 1 });
  });
  afterAll(() => sb?.stop());

  it('parks with exit 3 naming Dataverse, never swaps the server back, and resume finishes once it is back', async () => {
    const target = 'bench-0001';
    const t = sandboxTarget(sb, target);
    const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
    const config = await editConfig(sb, 'short-verify.yaml', (d) => d.setIn(['defaults', 'verifyTimeout'], '4s'));
    await addFaults(sb, [{ service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 503 }]);
    let parked;
    try {
      parked = await cli(config, ['rotate', target, '--yes', '--json']);
    } finally {
      await clearFaults(sb);
    }
    expect(parked.code, parked.stderr).toBe(3);
    const doc = parseJson<RunDocument>(parked);
    expect(doc.outcome).toBe('awaitingOperator');
    expect(doc.state).toBe('awaitingOperator');
    expect(doc.message).toMatch(/could not reach a service .*Dataverse \(https:\/\/[^)]+\) unreachable/);
    expect(doc.message).toContain('outage, not a rejection, so nothing was undone');
    expect(doc.message).toContain(`certrotate resume ${doc.runId}`);
    expect(doc.next).toBe(`certrotate resume ${doc.runId} --config ${config}`);
    expect(doc.steps.find((s) => s.name === 'verifyNewKey')?.status).toBe('parked');
    expect(doc.steps.some((s) => s.name === 'rollBackRotation')).toBe(false);

    // Parked, not rolled back: both keys on the app, the server on the new one, moved exactly once.
    const during = await targetState(sb, target);
    expect(during.app.keyCredentials.map((k) => k.thumbprint).sort()).toEqual(
      [oldThumbprint, doc.newThumbprint].sort(),
    );
    expect(during.server!.thumbprint).toBe(doc.newThumbprint);
    const serverMoves = (await getHistory(sb))
      .filter((e) => e.kind === 'serverKey' && (e as { server?: string }).server === target)
      .map((e) => (e as { thumbprint?: string }).thumbprint);
    expect(serverMoves.slice(1)).toEqual([doc.newThumbprint]);
    expect((await listRuns(config)).find((r) => r.runId === doc.runId)?.outcome).toBe('awaitingOperator');

    // Dataverse is back: resume verifies again and retires the old key.
    const resumed = await cli(config, ['resume', doc.runId, '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const done = parseJson<RunDocument>(resumed);
    expect(done.outcome).toBe('succeeded');
    const after = await targetState(sb, target);
    expect(after.app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
    expect(after.server!.thumbprint).toBe(doc.newThumbprint);
    const history = await getHistory(sb);
    const moves = history
      .filter((e) => e.kind === 'serverKey' && (e as { server?: string }).server === target)
      .map((e) => (e as { thumbprint?: string }).thumbprint);
    expect(moves.slice(1)).toEqual([doc.newThumbprint]);
    const ref = { appId: t.appId, server: target };
    expect(checkI1(history, ref)).toEqual([]);
    expect(checkI2(history, { ...ref, oldThumbprint, newThumbprint: doc.newThumbprint! })).toEqual([]);
    expect((await serverHealth(sb, target)).status).toBe(200);
  });
});

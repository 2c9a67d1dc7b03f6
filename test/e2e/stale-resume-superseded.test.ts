/**
 * Issue 16, defect 1: a stale resume must not overwrite a newer rotation (I7). Agent A's run of `contoso-api` stops
 * in installing (its webhook answers 503, then A is killed while it backs off) with its new key attached to the app;
 * agent B, whose config differs only in `state.dir`, rotates the same target fully; then A is resumed with `--yes`.
 * A must end `superseded` (exit 1) naming B's run, the server must never move to A's older key (or back to the old
 * one), and the app must end with exactly the key the server uses: A withdrew its own key and disabled its version.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addFaults,
  checkI1,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  killOn,
  listRuns,
  parseJson,
  sandboxTarget,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

const TARGET = 'contoso-api';

describe('resume of a run another agent has overtaken', () => {
  let sb: Sandbox;

  beforeAll(async () => {
    sb = await startE2eSandbox();
  });
  afterAll(() => sb?.stop());

  it('ends superseded, never moves the server backwards, and withdraws only its own additions', async () => {
    const oldThumbprint = (await targetState(sb, TARGET)).server!.thumbprint;

    // Agent A: its key is attached and propagated, but the server refuses the install for now; A dies backing off.
    await addFaults(sb, [{ service: TARGET, method: 'POST', status: 503 }]);
    const a = await killOn(sb.configPath, ['rotate', TARGET, '--yes'], '↻ installServerKey retrying', 0);
    expect(a.reached, a.result.stderr).toBe(true);
    await clearFaults(sb);
    const [stale] = await listRuns(sb.configPath);
    expect(stale?.outcome ?? null).toBeNull();
    const withA = await targetState(sb, TARGET);
    const aVersion = withA.versions.find((v) => v.tags['certrotate-run'] === stale!.runId);
    expect(aVersion, 'A made its version').toBeDefined();
    expect(withA.app.keyCredentials.map((k) => k.thumbprint)).toContain(aVersion!.thumbprint);

    // Agent B: the same config but for its state dir (another pipeline agent, another laptop) rotates fully.
    const other = await editConfig(sb, 'agent-b.yaml', (d) => d.setIn(['state', 'dir'], join(sb.dir, 'state-b')));
    const b = await cli(other, ['rotate', TARGET, '--yes', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const bDoc = parseJson<RunDocument>(b);
    expect(bDoc.outcome).toBe('succeeded');
    expect(bDoc.oldThumbprint).toBe(oldThumbprint);

    // A resumes on its stale snapshot.
    const r = await cli(sb.configPath, ['resume', stale!.runId, '--yes', '--json']);
    const doc = parseJson<RunDocument>(r);
    expect(r.code, r.stderr).toBe(1);
    expect(doc.outcome).toBe('superseded');
    expect(doc.message).toContain(bDoc.newThumbprint);
    expect(doc.message).toContain(`run ${bDoc.runId}`);
    expect(doc.steps.find((s) => s.name === 'withdrawAdditions')).toMatchObject({
      status: 'succeeded',
      detail: 'key removed, version disabled',
    });

    // The server went from the old key to B's, and nowhere else: never to A's older key, never back.
    const history = await getHistory(sb);
    const serverKeys = history.flatMap((e) => (e.kind === 'serverKey' && e.server === TARGET ? [e.thumbprint] : []));
    expect(serverKeys).toEqual([oldThumbprint, bDoc.newThumbprint]);
    expect(checkI1(history, { appId: sandboxTarget(sb, TARGET).appId, server: TARGET })).toEqual([]);

    // The app holds exactly the key the server uses; A's version is disabled, B's is not.
    const end = await targetState(sb, TARGET);
    expect(end.server!.thumbprint).toBe(bDoc.newThumbprint);
    expect(end.app.keyCredentials.map((k) => k.thumbprint)).toEqual([bDoc.newThumbprint]);
    expect(end.versions.find((v) => v.version === aVersion!.version)?.enabled).toBe(false);
    expect(end.versions.find((v) => v.thumbprint === bDoc.newThumbprint)?.enabled).toBe(true);

    // The run is closed: nothing blocks the target in A's state dir.
    const runs = await listRuns(sb.configPath);
    expect(runs.find((x) => x.runId === stale!.runId)?.outcome).toBe('superseded');
  }, 150_000);
});

/**
 * `plan` and `scan` from the command line: I6 (nothing but reads and token requests reach any service), their
 * detailed exit codes, and saved plans: refused once the world they observed has moved on, applied when untouched.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateExpiringIn } from '../../src/sandbox/world.js';
import {
  cli,
  getHistory,
  getRequests,
  getState,
  parseJson,
  sandboxTarget,
  startE2eSandbox,
  targetState,
  type RequestEntry,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

/** A request that can change nothing: a read, or a token request to Entra (which only issues a token). */
const isRead = (r: RequestEntry) =>
  r.method === 'GET' || (r.service === 'entra' && r.method === 'POST' && r.path.endsWith('/oauth2/v2.0/token'));

describe('plan and scan', () => {
  let sb: Sandbox;
  let config: string;

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 2 });
    config = sb.configPath;
  });
  afterAll(() => sb?.stop());

  /** Runs a command and returns what it sent to the services, with the history before and after. */
  async function observed(args: string[]) {
    const before = (await getRequests(sb)).length;
    const historyBefore = await getHistory(sb);
    const stateBefore = await getState(sb);
    const r = await cli(config, args);
    const sent = (await getRequests(sb)).slice(before);
    return { r, sent, historyBefore, historyAfter: await getHistory(sb), stateBefore, stateAfter: await getState(sb) };
  }

  it.each([
    [['scan', '--json', '--detailed-exitcode'], 2],
    [['plan', 'contoso-api', '--json', '--detailed-exitcode'], 2],
    [['plan', 'fabrikam-api', '--detailed-exitcode'], 0],
    [['plan', 'contoso-portal', '--json'], 0],
    [['plan', 'contoso-api', '--force', '--out', '@dir/forced-plan.json'], 0],
  ])('%j sends no write to any service and exits %i', async (args, code) => {
    const o = await observed(args.map((a) => a.replace('@dir', sb.dir)));
    expect(o.r.code, o.r.stderr).toBe(code);
    // It did talk to the services (Graph and, for keyvault targets, the vault), so the check below is not vacuous.
    expect(o.sent.some((r) => r.service === 'graph' && r.method === 'GET')).toBe(true);
    expect(o.sent.filter((r) => !isRead(r))).toEqual([]);
    // The world is as it was: no key set, server key or version changed (token events aside).
    const changes = (h: typeof o.historyBefore) => h.filter((e) => e.kind !== 'token');
    expect(changes(o.historyAfter)).toEqual(changes(o.historyBefore));
    expect(o.stateAfter).toEqual(o.stateBefore);
  });

  it('reports the due and the healthy targets in the scan document', async () => {
    const r = await cli(config, ['scan', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<{ formatVersion: number; targets: { name: string; status: string; credential: string }[] }>(
      r,
    );
    expect(doc.formatVersion).toBe(1);
    const status = Object.fromEntries(doc.targets.map((t) => [t.name, t.status]));
    expect(status).toMatchObject({
      'contoso-api': 'due',
      'fabrikam-api': 'ok',
      'contoso-portal': 'due',
      'northwind-portal': 'federated',
      'bench-0001': 'due',
    });
  });

  it('describes the rotation as the plan document of DESIGN §5', async () => {
    const r = await cli(config, ['plan', 'contoso-api', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = parseJson<{
      formatVersion: number;
      target: string;
      kind: string;
      fingerprint: string;
      steps: { name: string; action: string; summary: string }[];
    }>(r);
    expect(plan).toMatchObject({ formatVersion: 1, target: 'contoso-api', kind: 'keyvault' });
    expect(plan.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.steps.map((s) => s.action)).toContain('create');
    for (const s of plan.steps) expect(['create', 'modify', 'delete', 'noChange', 'manual']).toContain(s.action);
  });

  it('refuses a saved plan after another rotation changed the target, and writes nothing', async () => {
    const planFile = join(sb.dir, 'bench-0001.plan.json');
    expect((await cli(config, ['plan', 'bench-0001', '--out', planFile])).code).toBe(0);
    const other = await cli(config, ['rotate', 'bench-0001', '--yes', '--json']);
    expect(other.code, other.stderr).toBe(0);
    const o = await observed(['rotate', 'bench-0001', '--plan', planFile, '--json']);
    expect(o.r.code).toBe(1);
    expect(o.r.stderr).toMatch(/--plan: the plan is stale/);
    expect(o.r.stderr).not.toMatch(/\n\s+at /);
    expect(o.sent.filter((r) => !isRead(r))).toEqual([]);
    expect(o.stateAfter).toEqual(o.stateBefore);
  });

  it('refuses a saved plan after a key was added to the app behind its back', async () => {
    const planFile = join(sb.dir, 'bench-0002.plan.json');
    expect((await cli(config, ['plan', 'bench-0002', '--out', planFile])).code).toBe(0);
    // An administrator adds a key credential in the portal: the plan no longer describes the app.
    const app = sb.directory.appByAppId(sandboxTarget(sb, 'bench-0002').appId)!;
    const material = await certificateExpiringIn(sb.pool, sb.clock.now(), 'CN=by-hand', 300, 365);
    sb.directory.setKeyCredentials(app, [
      ...app.keyCredentials,
      sb.directory.keyCredentialFromCertificate(material.certDer, { keyId: randomUUID(), propagated: true }),
    ]);
    const o = await observed(['rotate', 'bench-0002', '--plan', planFile]);
    expect(o.r.code).toBe(1);
    expect(o.r.stderr).toMatch(/stale/);
    expect(o.sent.filter((r) => !isRead(r))).toEqual([]);
    expect((await targetState(sb, 'bench-0002')).app.keyCredentials).toHaveLength(2);
  });

  it('applies an untouched saved plan without --yes', async () => {
    const planFile = join(sb.dir, 'contoso-api.plan.json');
    expect((await cli(config, ['plan', 'contoso-api', '--out', planFile])).code).toBe(0);
    const r = await cli(config, ['rotate', 'contoso-api', '--plan', planFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<RunDocument>(r);
    expect(doc.outcome).toBe('succeeded');
    const { app, server } = await targetState(sb, 'contoso-api');
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
    expect(server!.thumbprint).toBe(doc.newThumbprint);
  });
});

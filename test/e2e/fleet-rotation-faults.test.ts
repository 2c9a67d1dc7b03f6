/**
 * A fleet of 100 targets under random Graph and Key Vault 429s and the sandbox's budgets at Azure's published limits
 * (20 certificate creates per vault per 10 s; Graph writes per app+tenant and per tenant), whose process is SIGKILLed
 * twice: after resuming the open runs and running the fleet again, every target is rotated, scan finds no orphan and
 * no run in flight, no server ever went back to a key it had left, and no budget ever admitted more than its limit in
 * one window (the sandbox counts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addFaults,
  admin,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  killOn,
  listRuns,
  parseJson,
  startE2eSandbox,
  targetState,
  type Sandbox,
} from '../helpers/sandbox.js';
import type { FleetDocument } from '../../src/fleet/fleet-summary.js';
import type { BudgetReport } from '../../src/sandbox/budgets.js';

const FLEET = 100;
const names = Array.from({ length: FLEET }, (_, i) => `bench-${String(i + 1).padStart(4, '0')}`);

describe('a fleet under 429s and two SIGKILLs', () => {
  let sb: Sandbox;
  let config: string;
  const before = new Map<string, string>();
  const kills: Array<{ reached: boolean; code: number | null; stderr: string }> = [];
  let final: Awaited<ReturnType<typeof cli>>;
  let budgets: BudgetReport[];

  /** Resumes every run the kills left open, side by side: each is its own run, resumable by itself. */
  async function resumeOpenRuns(): Promise<void> {
    const open = (await listRuns(config)).filter((r) => r.outcome === null);
    const resumed = await Promise.all(open.map((r) => cli(config, ['resume', r.runId, '--yes', '--json'])));
    resumed.forEach((r, i) => expect(r.code, `${open[i]!.runId}\n${r.stderr.slice(-1500)}`).toBe(0));
  }

  beforeAll(async () => {
    sb = await startE2eSandbox({
      targets: FLEET,
      propagationDelaySeconds: 0,
      kvCreateDelaySeconds: 0,
      vaultCertificateCreatesPer10s: 20,
    });
    // The sandbox's Graph reads do not lag, so a run killed inside attachKeyCredential need not read for 2 minutes
    // before it adds again.
    config = await editConfig(sb, 'fleet.yaml', (d) => d.setIn(['defaults', 'readSettle'], '1s'));
    for (const n of names) before.set(n, (await targetState(sb, n)).server!.thumbprint);
    await addFaults(sb, [
      { service: 'graph', status: 429, retryAfter: 0.1, probability: 0.1 },
      { service: 'keyvault', status: 429, retryAfter: 0.1, probability: 0.1 },
    ]);
    const fleet = ['rotate', '--due', '--match', 'bench-*', '--concurrency', '16', '--yes'];
    for (const marker of ['| ✓ attachKeyCredential succeeded', '| → installServerKey started']) {
      const k = await killOn(config, fleet, marker, 150);
      kills.push({ reached: k.reached, code: k.result.code, stderr: k.result.stderr });
      await resumeOpenRuns();
    }
    final = await cli(config, fleet);
    await clearFaults(sb);
    budgets = await admin<BudgetReport[]>(sb, 'GET', '/budgets');
  }, 600_000);
  afterAll(() => sb?.stop());

  it('both kills landed mid-fleet, whose progress lines name their target', () => {
    expect(kills.map((k) => k.reached)).toEqual([true, true]);
    expect(kills.map((k) => k.code)).not.toContain(0);
    for (const k of kills) expect(k.stderr).toMatch(/^bench-\d{4} \| → observeTarget started$/m);
  });

  it('the last fleet run ends 0 with its summary table', () => {
    expect(final.code, `${final.stdout}\n${final.stderr.slice(-1500)}`).toBe(0);
    expect(final.stdout).toMatch(/^TARGET +OUTCOME +RUN +NEW KEY +EXPIRES +NEXT$/m);
    expect(final.stdout.trimEnd().endsWith('exit 0')).toBe(true);
  });

  it('every target is rotated: its server and app hold one new key', async () => {
    for (const n of names) {
      const { app, server } = await targetState(sb, n);
      expect(server!.thumbprint, n).not.toBe(before.get(n));
      expect(
        app.keyCredentials.map((k) => k.thumbprint),
        n,
      ).toEqual([server!.thumbprint]);
    }
    const again = await cli(config, ['rotate', '--due', '--match', 'bench-*', '--yes', '--json']);
    expect(parseJson<FleetDocument>(again).runs.map((r) => r.outcome)).toEqual(names.map(() => 'notDue'));
  });

  it('scan shows no orphaned key and no run in flight', async () => {
    const r = await cli(config, ['scan', '--detailed-exitcode', '--json']);
    const rows = parseJson<{ targets: Array<{ name: string; status: string }> }>(r).targets;
    for (const n of names) expect(rows.find((row) => row.name === n)?.status, n).toBe('ok');
    expect(rows.filter((row) => row.status === 'orphaned' || row.status === 'inFlight')).toEqual([]);
  });

  it('no budget ever admitted more than its limit in one window, and the creates were metered', () => {
    for (const b of budgets) {
      for (const [key, c] of Object.entries(b.keys)) {
        if (b.limit > 0) expect(c.peakInWindow, `${b.name} ${key}`).toBeLessThanOrEqual(b.limit);
      }
    }
    const creates = budgets.filter((b) => b.limit === 20 && b.windowSeconds === 10);
    expect(creates.length).toBe(1);
    const accepted = Object.values(creates[0]!.keys).reduce((n, c) => n + c.accepted, 0);
    expect(accepted).toBeGreaterThanOrEqual(FLEET);
  });

  it('no server ever moved back to a key it had left', async () => {
    const history = await getHistory(sb);
    for (const n of names) {
      const keys = history.flatMap((e) => (e.kind === 'serverKey' && e.server === n ? [e.thumbprint] : []));
      const changes = keys.filter((k, i) => i === 0 || k !== keys[i - 1]);
      expect(new Set(changes).size, `${n}: ${changes.join(' → ')}`).toBe(changes.length);
      expect(changes[0]).toBe(before.get(n));
    }
  });
});

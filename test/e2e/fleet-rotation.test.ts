/**
 * `rotate --due --concurrency 4` over a fleet of 20 due keyvault targets plus the seeded ones (a due Power Pages site,
 * a key not yet due, a federated site): every due keyvault target ends rotated, the site parks with the combined
 * admin-center list, the fleet exits 3; after Update key, `resume RUN_ID` ends it 0 and a second `--due` finds
 * nothing to do. Also the fleet's usage errors and `--dry-run`, which writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, getHistory, parseJson, startE2eSandbox, targetState, type Sandbox } from '../helpers/sandbox.js';
import type { FleetDocument } from '../../src/fleet/fleet-summary.js';
import { portal, pressUpdateKey } from './power-pages-support.js';

const FLEET = 18;
const THUMBPRINT = /^[0-9A-F]{40}$/;

describe('rotate --due over a fleet', () => {
  let sb: Sandbox;
  let fleet: Awaited<ReturnType<typeof cli>>;
  let doc: FleetDocument;
  const before = new Map<string, string>();

  beforeAll(async () => {
    sb = await startE2eSandbox({
      targets: FLEET,
      propagationDelaySeconds: 0,
      kvCreateDelaySeconds: 0,
      siteRestartSeconds: 1,
    });
    for (const t of sb.targets.filter((x) => x.kind === 'keyvault')) {
      before.set(t.name, (await targetState(sb, t.name)).server!.thumbprint);
    }
    fleet = await cli(sb.configPath, ['rotate', '--due', '--concurrency', '4', '--yes', '--json']);
    doc = parseJson<FleetDocument>(fleet);
    // ~45 s on an idle 2-core machine; room for a busy one.
  }, 150_000);
  afterAll(() => sb?.stop());

  it('refuses mixed or unknown selections and an unattended run without --yes, naming option and value', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['rotate', '--targets', 'contoso-api,nope', '--yes'], /option --targets: "nope" is not in the configuration/],
      [['rotate', '--match', 'prod-*', '--yes'], /option --match: "prod-\*" matches no configured target/],
      [['rotate', 'contoso-api', '--due', '--yes'], /TARGET "contoso-api" and --due are mutually exclusive/],
      [['rotate', '--due', '--concurrency', '0', '--yes'], /option --concurrency: "0" is not a whole number/],
      [['rotate', '--due'], /runs unattended .*--dry-run, then pass --yes/],
      [['rotate'], /expected a TARGET, or a fleet with --due/],
      [['rotate', 'contoso-api', '--dry-run'], /option --dry-run: applies to fleet runs .*certrotate plan contoso-api/],
      [['rotate', '--due', '--force', '--yes'], /option --force: --due rotates only targets that are due/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(sb.configPath, args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('--dry-run prints the plan of every selected target and writes nothing', async () => {
    // Reads leave token issuances in the history; anything else would be a change.
    const changes = async () => (await getHistory(sb)).filter((e) => e.kind !== 'token').length;
    const history = await changes();
    const r = await cli(sb.configPath, ['rotate', '--match', 'bench-000*', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plans = parseJson<{ formatVersion: 1; plans: Array<{ target: string }> }>(r).plans;
    expect(plans.map((p) => p.target)).toEqual(Array.from({ length: 9 }, (_, i) => `bench-000${i + 1}`));
    expect(await changes()).toBe(history);
  });

  it('rotates every due keyvault target, skips the rest, parks the site and exits 3', () => {
    expect(fleet.code, fleet.stderr.slice(-2000)).toBe(3);
    expect(doc.formatVersion).toBe(1);
    const byTarget = new Map(doc.runs.map((r) => [r.target, r]));
    const due = ['contoso-api', ...Array.from({ length: FLEET }, (_, i) => `bench-${String(i + 1).padStart(4, '0')}`)];
    for (const name of due) {
      expect(byTarget.get(name), name).toMatchObject({ outcome: 'succeeded', exitCode: 0, next: null });
      expect(byTarget.get(name)!.newThumbprint).toMatch(THUMBPRINT);
      expect(byTarget.get(name)!.newExpiresOn).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    expect(byTarget.get('fabrikam-api')).toMatchObject({ outcome: 'notDue', runId: null, exitCode: 0 });
    expect(byTarget.get('northwind-portal')).toMatchObject({ outcome: 'notDue', runId: null });
    expect(byTarget.get('contoso-portal')).toMatchObject({ outcome: 'awaitingOperator', exitCode: 3 });
    expect(doc.counts).toMatchObject({ total: FLEET + 4, succeeded: FLEET + 1, notDue: 2, awaitingOperator: 1 });
    expect(doc.powerPages?.sites).toEqual([
      expect.objectContaining({ target: 'contoso-portal', site: 'contoso-portal', environment: 'contoso-prod' }),
    ]);
    expect(doc.powerPages?.instructions).toContain('Security → Website Authentication Key → Update key');
  });

  it('every rotated server now uses its run’s new key; --json keeps stderr free of progress', async () => {
    for (const r of doc.runs.filter((x) => x.outcome === 'succeeded')) {
      const { server } = await targetState(sb, r.target);
      expect(server!.thumbprint, r.target).toBe(r.newThumbprint);
      expect(server!.thumbprint).not.toBe(before.get(r.target));
    }
    expect(fleet.stderr).not.toMatch(/\| → observeTarget started/);
    // 21 runs in one process share its Ctrl-C signal: no listener leak warning.
    expect(fleet.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('resume of the parked site ends 0, and a second --due finds nothing due', async () => {
    const parked = doc.powerPages!.sites[0]!;
    await pressUpdateKey(sb, portal(sb).websiteId);
    const resumed = await cli(sb.configPath, ['resume', parked.runId, '--yes', '--json']);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    expect(parseJson<{ outcome: string }>(resumed).outcome).toBe('succeeded');

    const again = await cli(sb.configPath, ['rotate', '--due', '--yes', '--json']);
    expect(again.code, again.stderr.slice(-2000)).toBe(0);
    const second = parseJson<FleetDocument>(again);
    expect(second.runs.every((r) => r.outcome === 'notDue' && r.runId === null)).toBe(true);
  }, 60_000);
});

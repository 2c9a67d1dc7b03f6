/**
 * Discovery and the platform-managed identity from the command line: `scan --environment` finds every site of the
 * sandbox's environment without a config entry for it, with its credential kind, expiry and status, and reads only;
 * `northwind-portal` (federated) is reported as such and plans and rotates as noChange.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { YAMLMap, YAMLSeq } from 'yaml';
import {
  cli,
  editConfig,
  getRequests,
  parseJson,
  startE2eSandbox,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';
import { portal, siteState } from './power-pages-support.js';

interface SiteRow {
  name: string;
  kind: string;
  websiteId: string;
  environmentId: string;
  appId: string;
  target: string | null;
  credential: string;
  thumbprint: string | null;
  expiresOn: string | null;
  daysLeft: number | null;
  status: string;
}
interface ScanDocument {
  formatVersion: number;
  targets: { name: string; credential: string; status: string }[];
  sites?: SiteRow[];
}

describe('Power Pages discovery and federated sites', () => {
  let sb: Sandbox;
  let keyvaultOnly: string;

  beforeAll(async () => {
    sb = await startE2eSandbox();
    keyvaultOnly = await editConfig(sb, 'keyvault-only.yaml', (doc) => {
      const targets = doc.get('targets') as YAMLSeq<YAMLMap>;
      targets.items = targets.items.filter((t) => t.get('kind') !== 'power-pages');
    });
  });
  afterAll(() => sb?.stop());

  it('scan --environment finds the sites without any config entry for them, reading only', async () => {
    const env = portal(sb).environmentId;
    const r = await cli(keyvaultOnly, ['scan', '--environment', env, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<ScanDocument>(r);
    expect(doc.targets.map((t) => t.name)).not.toContain('contoso-portal');
    const { site } = await siteState(sb);
    expect(doc.sites).toEqual([
      expect.objectContaining({
        name: 'contoso-portal',
        kind: 'power-pages',
        websiteId: portal(sb).websiteId,
        environmentId: env,
        appId: portal(sb).appId,
        target: null,
        credential: 'certificate',
        thumbprint: site.thumbprint,
        daysLeft: 19,
        status: 'due',
      }),
      expect.objectContaining({
        name: 'northwind-portal',
        websiteId: portal(sb, 'northwind-portal').websiteId,
        target: null,
        credential: 'federated',
        thumbprint: null,
        expiresOn: null,
        status: 'federated',
      }),
    ]);
    const writes = (await getRequests(sb)).filter((q) => q.method !== 'GET' && q.service !== 'entra');
    expect(writes).toEqual([]);
  });

  it('scan --environment --detailed-exitcode exits 2 for a due site, and names configured ones', async () => {
    const env = portal(sb).environmentId;
    const r = await cli(sb.configPath, ['scan', '--environment', env, '--detailed-exitcode', '--json']);
    expect(r.code, r.stderr).toBe(2);
    const sites = parseJson<ScanDocument>(r).sites!;
    expect(sites.map((s) => [s.name, s.target])).toEqual([
      ['contoso-portal', 'contoso-portal'],
      ['northwind-portal', 'northwind-portal'],
    ]);
    const human = await cli(keyvaultOnly, ['scan', '--environment', env]);
    expect(human.stdout).toContain(`Power Pages sites in environment ${env}:`);
    expect(human.stdout).toMatch(/contoso-portal\s+\(not configured\)\s+certificate/);
  });

  it('an unknown environment fails with exit 1 and says so', async () => {
    const r = await cli(keyvaultOnly, ['scan', '--environment', '00000000-0000-0000-0000-000000000000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('00000000-0000-0000-0000-000000000000');
  });

  it('northwind-portal is reported federated by scan', async () => {
    const r = await cli(sb.configPath, ['scan', '--json']);
    const row = parseJson<ScanDocument>(r).targets.find((t) => t.name === 'northwind-portal');
    expect(row).toMatchObject({ credential: 'federated', status: 'federated' });
  });

  it('plan northwind-portal is noChange (exit 0 with --detailed-exitcode)', async () => {
    const r = await cli(sb.configPath, ['plan', 'northwind-portal', '--detailed-exitcode', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = parseJson<{ steps: { action: string; summary: string }[] }>(r);
    expect(plan.steps.map((s) => s.action)).toEqual(['noChange']);
    expect(plan.steps[0]!.summary).toContain('federated');
  });

  it('rotate northwind-portal ends noChange without parking or writing', async () => {
    const r = await cli(sb.configPath, ['rotate', 'northwind-portal', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<RunDocument & { message?: string }>(r);
    expect(doc.outcome).toBe('noChange');
    expect(doc.message).toContain('platform-managed identity');
    const writes = (await getRequests(sb)).filter((q) => q.service === 'graph' && q.method !== 'GET');
    expect(writes).toEqual([]);
  });

  it('plan says the identity was not checked when Dataverse refuses the read, and plans as before', async () => {
    // This sandbox does not make the operator an application user: the identity audit cannot read Dataverse.
    const text = await cli(sb.configPath, ['plan', 'contoso-portal', '--detailed-exitcode']);
    const json = await cli(sb.configPath, ['plan', 'contoso-portal', '--detailed-exitcode', '--json']);
    expect(text.code, text.stderr).toBe(2);
    expect(json.code, json.stderr).toBe(2);
    expect(text.stdout).toMatch(/^identity: not checked \(.+\)$/m);
    expect(text.stdout).toContain(`fingerprint ${parseJson<{ fingerprint: string }>(json).fingerprint}`);
    // --json carries the same verdict: not checked, with the reason.
    const { identity } = parseJson<{ identity: { verdict: null; kind: null; findings: number; error: string } }>(json);
    expect(identity).toMatchObject({
      verdict: null,
      kind: null,
      findings: expect.any(Number),
      error: expect.any(String),
    });
    expect(text.stdout).toContain(`identity: not checked (${identity.error})`);
  });
});

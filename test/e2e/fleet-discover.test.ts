/**
 * A whole tenant from the command line (issue 12): `discover` on a seeded tenant of 250 extra apps (three Graph
 * pages) finds every credential exactly once, classified, and writes nothing (I6); with `--environment` it reports
 * each app's Dataverse application user, and a refused `systemusers` is one note; 429s with Retry-After from
 * Dataverse, the Power Platform API and Graph are waited out by `discover` and `scan` (the sandbox sees the retry
 * after the wait); `init` writes a config that `scan` accepts and refuses to overwrite it; `doctor` names the Key
 * Vault role the operator lacks. One sandbox for every case.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_VAULT } from '../../src/sandbox/seeding/tenant-apps.js';
import {
  addFaults,
  clearFaults,
  cli,
  getRequests,
  getState,
  parseJson,
  startE2eSandbox,
  type RequestEntry,
  type Sandbox,
} from '../helpers/sandbox.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * For each service: whether the sandbox answered it a 429, and then, at least `retryAfterMs` later, a success on the
 * same path (the client waited the Retry-After out and retried; requests already in flight may land in between).
 */
function retriesAfterWait(requests: RequestEntry[], services: string[], retryAfterMs: number) {
  return services.map((service) => {
    const throttled = requests.find((q) => q.service === service && q.status === 429);
    const retried =
      throttled !== undefined &&
      requests.some(
        (q) =>
          q.service === service &&
          q.path === throttled.path &&
          q.status === 200 &&
          Date.parse(q.time) - Date.parse(throttled.time) >= retryAfterMs - 5,
      );
    return { service, throttled: throttled?.status, retriedAfterWait: retried };
  });
}

interface DiscoverDocument {
  formatVersion: number;
  apps: {
    appId: string;
    displayName: string;
    kind: string;
    owners: string[];
    site?: { websiteId: string };
    applicationUser?: string | null;
    applicationUserDetail?: { name: string; disabled: boolean; businessUnit: string | null };
    credentials: { kind: string; on: string; keyId: string; status: string; vault?: { certificate: string } }[];
  }[];
  counts: { apps: number; certificates: number; secrets: number; byKind: Record<string, number> };
  notes: string[];
}

describe('discover, init and doctor on a seeded tenant', () => {
  let sb: Sandbox;
  let vaultUrl: string;
  let environment: string;

  beforeAll(async () => {
    sb = await startE2eSandbox({
      tenantApps: 250,
      vaultDenials: [{ vault: FLEET_VAULT, operations: ['secrets/get'] }],
      // The operator is an application user of the environment, so that it may read systemusers.
      identity: { operatorReads: true },
    });
    environment = sb.targets.find((t) => t.kind === 'power-pages' && t.environmentId)!.environmentId!;
    // The fleet vault is the one holding fleet-0001's certificate; its port is only known once the sandbox runs.
    const vault = (await getState(sb)).vaults.find((v) => v.certificates.some((c) => c.name === 'fleet-0001-s2s'));
    vaultUrl = vault!.url;
  }, 120_000);
  afterAll(() => sb?.stop());

  // One run for both the document and the --html page: each CLI run costs seconds on a loaded machine.
  it('discover finds every credential exactly once across three pages, writes nothing, and --html writes the timeline page', async () => {
    const before = (await getRequests(sb)).length;
    const file = join(sb.dir, 'discover.html');
    const r = await cli(sb.configPath, ['--json', 'discover', '--vault', vaultUrl, '--html', file]);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<DiscoverDocument>(r);
    expect(doc.formatVersion).toBe(1);

    const expected = sb.directory
      .apps()
      .flatMap((a) => [
        ...a.keyCredentials.map((k) => `${a.appId}/application/certificate/${k.keyId}`),
        ...a.passwordCredentials.map((p) => `${a.appId}/application/secret/${p.keyId}`),
        ...(a.servicePrincipalCredentials?.keyCredentials ?? []).map(
          (k) => `${a.appId}/servicePrincipal/certificate/${k.keyId}`,
        ),
        ...(a.servicePrincipalCredentials?.passwordCredentials ?? []).map(
          (p) => `${a.appId}/servicePrincipal/secret/${p.keyId}`,
        ),
      ]);
    const found = doc.apps.flatMap((a) => a.credentials.map((c) => `${a.appId}/${c.on}/${c.kind}/${c.keyId}`));
    expect(found.length).toBe(new Set(found).size);
    expect([...found].sort()).toEqual([...expected].sort());
    expect(doc.counts.certificates + doc.counts.secrets).toBe(expected.length);
    expect(sb.directory.apps().length).toBeGreaterThan(200);

    const byName = new Map(doc.apps.map((a) => [a.displayName, a]));
    expect(byName.get('Portals - fleet-site')?.kind).toBe('powerPages');
    expect(byName.get('fleet-0001')?.kind).toBe('keyVault');
    expect(byName.get('fleet-0001')?.credentials[0]?.vault?.certificate).toBe('fleet-0001-s2s');
    expect(byName.get('fleet-0007')?.kind).toBe('federated');
    expect(byName.get('fleet-0002')?.kind).toBe('unmanaged');
    expect(byName.get('fleet-0004')?.credentials[0]?.status).toBe('expired');
    expect(byName.get('fleet-0005')?.credentials[0]?.status).toBe('due');
    expect(byName.get('fleet-0001')?.owners).toContain('certrotate-operator');
    expect(byName.has('fleet-0008')).toBe(false); // no credential of any kind
    expect(doc.counts.byKind.keyVault).toBe(3);
    expect(doc.notes.join('\n')).toMatch(/certrotate rotates certificates, not client secrets/);

    const requests = (await getRequests(sb)).slice(before);
    const writes = requests.filter((q) => q.method !== 'GET' && q.service !== 'entra');
    expect(writes).toEqual([]);
    const appPages = requests.filter((q) => q.service === 'graph' && q.path.startsWith('/v1.0/applications'));
    expect(appPages).toHaveLength(3);

    expect(r.stderr).toContain(`Discovery report written to ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Portals - fleet-site');
    expect(html).toContain('keyVault');
  });

  it('discover --detailed-exitcode exits 2 and --csv prints one line per credential', async () => {
    const r = await cli(sb.configPath, ['discover', '--vault', vaultUrl, '--detailed-exitcode', '--csv']);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('kind,app,appId,credential,on,keyId,thumbprint,expiresOn,daysLeft,status,owners,vault,site');
    expect(lines.filter((l) => l.startsWith('powerPages,Portals - fleet-site,'))).toHaveLength(1);
  });

  it('discover --environment reports each application user, waiting out 429s from Dataverse and the Power Platform API', async () => {
    await addFaults(sb, [
      { service: 'dataverse', path: '/api/data/v9.2/systemusers', status: 429, retryAfter: 1, count: 1 },
      {
        service: 'powerplatform',
        path: `/powerpages/environments/${environment}/websites`,
        status: 429,
        retryAfter: 1,
        count: 1,
      },
    ]);
    const before = (await getRequests(sb)).length;
    const file = join(sb.dir, 'discover-users.html');
    const r = await cli(sb.configPath, [
      '--json',
      'discover',
      '--vault',
      vaultUrl,
      '--environment',
      environment,
      '--html',
      file,
    ]);
    await clearFaults(sb);
    expect(r.code, r.stderr).toBe(0);
    const doc = parseJson<DiscoverDocument>(r);
    const requests = (await getRequests(sb)).slice(before);
    expect(retriesAfterWait(requests, ['dataverse', 'powerplatform'], 1000)).toEqual([
      { service: 'dataverse', throttled: 429, retriedAfterWait: true },
      { service: 'powerplatform', throttled: 429, retriedAfterWait: true },
    ]);

    const byName = new Map(doc.apps.map((a) => [a.displayName, a]));
    const site = byName.get('Portals - fleet-site');
    expect(site?.kind).toBe('powerPages');
    expect(site?.applicationUser).toMatch(GUID);
    expect(site?.applicationUserDetail).toEqual({
      name: expect.stringContaining('fleet-site') as unknown,
      disabled: false,
      businessUnit: expect.stringMatching(GUID) as unknown,
    });
    // The tenant's other apps have no application user in this environment: reported as none, not left out.
    expect(byName.get('fleet-0001')?.applicationUser).toBeNull();
    expect(doc.notes.join('\n')).not.toMatch(/systemusers|application users/);
    // One systemusers query per 50 apps (an `or` filter), not one per app; the throttled one retried once.
    const userQueries = requests.filter((q) => q.service === 'dataverse' && q.path === '/api/data/v9.2/systemusers');
    expect(userQueries.filter((q) => q.status === 200)).toHaveLength(Math.ceil(sb.directory.apps().length / 50));
    expect(userQueries.filter((q) => q.status === 429)).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toMatch(/application user: [^<;]*fleet-site/);
  });

  it('discover --environment without the right to read systemusers says what to grant and reports the rest', async () => {
    await addFaults(sb, [{ service: 'dataverse', path: '/api/data/v9.2/systemusers', status: 403 }]);
    const r = await cli(sb.configPath, ['discover', '--environment', environment]);
    await clearFaults(sb);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stdout.split('\n').filter((l) => l.startsWith('note: could not read systemusers'));
    expect(notes).toEqual([
      expect.stringMatching(/^note: could not read systemusers: grant .+ to certrotate's application user$/),
    ]);
    expect(r.stdout).toContain('Portals - fleet-site');
    expect(r.stdout).not.toContain('APP USER');
  });

  it('scan waits out 429s from the Power Platform API and Graph owners reads of its power-pages targets', async () => {
    type ScanRows = { targets: { name: string; kind: string; status: string }[] };
    const baseline = await cli(sb.configPath, ['--json', 'scan']);
    expect(baseline.code, baseline.stderr).toBe(0);
    await addFaults(sb, [
      { service: 'powerplatform', path: '/powerpages/environments/*/websites/*', status: 429, retryAfter: 1, count: 1 },
      { service: 'graph', path: '/v1.0/applications/*/owners', status: 429, retryAfter: 1, count: 1 },
    ]);
    const before = (await getRequests(sb)).length;
    const r = await cli(sb.configPath, ['--json', 'scan']);
    await clearFaults(sb);
    expect(r.code, r.stderr).toBe(0);
    const requests = (await getRequests(sb)).slice(before);
    expect(retriesAfterWait(requests, ['powerplatform', 'graph'], 1000)).toEqual([
      { service: 'powerplatform', throttled: 429, retriedAfterWait: true },
      { service: 'graph', throttled: 429, retriedAfterWait: true },
    ]);
    // The throttles changed nothing: every target reads as it did without them.
    const rows = parseJson<ScanRows>(r).targets;
    expect(rows.some((t) => t.kind === 'power-pages')).toBe(true);
    expect(rows).toEqual(parseJson<ScanRows>(baseline).targets);
  });

  it('init writes a config that scan accepts, and will not overwrite it without --force', async () => {
    const out = join(sb.dir, 'fleet.yaml');
    const env = { CERTROTATE_CLIENT_SECRET: sb.operator.clientSecret };
    const r = await cli(sb.configPath, ['init', '--vault', vaultUrl, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text).toContain('kind: "manual"');
    expect(text).toMatch(/TODO: pick the server kind/);
    expect(text).not.toContain(sb.operator.clientSecret);

    const scan = await cli(out, ['--json', 'scan'], { env });
    expect(scan.code, scan.stderr).toBe(0);
    const rows = parseJson<{ targets: { name: string; kind: string; status: string }[] }>(scan).targets;
    expect(rows.filter((t) => t.kind === 'keyvault').map((t) => t.name)).toEqual([
      'fleet-0001',
      'fleet-0009',
      'fleet-0017',
    ]);
    expect(rows.map((t) => t.name)).toContain('fleet-site');
    expect(rows.every((t) => t.status !== 'unknown')).toBe(true);

    const again = await cli(sb.configPath, ['init', '--vault', vaultUrl, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${out} already exists; pass --force`);
    expect(await readFile(out, 'utf8')).toBe(text);
  });

  it('doctor names the Key Vault role the operator lacks, and exits 1', async () => {
    const out = join(sb.dir, 'fleet.yaml');
    const before = (await getRequests(sb)).length;
    const r = await cli(out, ['doctor'], { env: { CERTROTATE_CLIENT_SECRET: sb.operator.clientSecret } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/fleet-0001 keyvault-secret-get: grant Azure role "Key Vault Secrets User"/);
    expect(r.stdout).toMatch(/fleet-site\s+power-platform-site\s+ok/);
    expect(r.stdout).toMatch(/fleet-0001\s+graph-app-write\s+ok/);
    const writes = (await getRequests(sb)).slice(before).filter((q) => q.method !== 'GET' && q.service !== 'entra');
    expect(writes).toEqual([]);
  });
});

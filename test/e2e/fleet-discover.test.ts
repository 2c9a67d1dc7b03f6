/**
 * A whole tenant from the command line (issue 12): `discover` on a seeded tenant of 250 extra apps (three Graph
 * pages) finds every credential exactly once, classified, and writes nothing (I6); `init` writes a config that
 * `scan` accepts and refuses to overwrite it; `doctor` names the Key Vault role the operator lacks. One sandbox.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_VAULT } from '../../src/sandbox/seeding/tenant-apps.js';
import { cli, getRequests, getState, parseJson, startE2eSandbox, type Sandbox } from '../helpers/sandbox.js';

interface DiscoverDocument {
  formatVersion: number;
  apps: {
    appId: string;
    displayName: string;
    kind: string;
    owners: string[];
    site?: { websiteId: string };
    credentials: { kind: string; on: string; keyId: string; status: string; vault?: { certificate: string } }[];
  }[];
  counts: { apps: number; certificates: number; secrets: number; byKind: Record<string, number> };
  notes: string[];
}

describe('discover, init and doctor on a seeded tenant', () => {
  let sb: Sandbox;
  let vaultUrl: string;

  beforeAll(async () => {
    sb = await startE2eSandbox({
      tenantApps: 250,
      vaultDenials: [{ vault: FLEET_VAULT, operations: ['secrets/get'] }],
    });
    // The fleet vault is the one holding fleet-0001's certificate; its port is only known once the sandbox runs.
    const vault = (await getState(sb)).vaults.find((v) => v.certificates.some((c) => c.name === 'fleet-0001-s2s'));
    vaultUrl = vault!.url;
  }, 120_000);
  afterAll(() => sb?.stop());

  it('discover finds every credential exactly once across three pages, and writes nothing', async () => {
    const before = (await getRequests(sb)).length;
    const r = await cli(sb.configPath, ['--json', 'discover', '--vault', vaultUrl]);
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
  });

  it('discover --detailed-exitcode exits 2 and --csv prints one line per credential', async () => {
    const r = await cli(sb.configPath, ['discover', '--vault', vaultUrl, '--detailed-exitcode', '--csv']);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('kind,app,appId,credential,on,keyId,thumbprint,expiresOn,daysLeft,status,owners,vault,site');
    expect(lines.filter((l) => l.startsWith('powerPages,Portals - fleet-site,'))).toHaveLength(1);
  });

  it('discover --html writes the timeline page with every credential, by kind', async () => {
    const file = join(sb.dir, 'discover.html');
    const r = await cli(sb.configPath, ['discover', '--vault', vaultUrl, '--html', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Discovery report written to ${file}`);
    const html = await readFile(file, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Portals - fleet-site');
    expect(html).toContain('keyVault');
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

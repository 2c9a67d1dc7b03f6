import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { runDoctor, type DoctorProbes } from '../../../src/fleet/doctor.js';

const config = parseConfig(
  `tenantId: "11111111-2222-4333-8444-555555555555"
targets:
  - name: api
    kind: keyvault
    app: { appId: "22222222-2222-4333-8444-555555555555" }
    keyVault: { url: "https://kv.vault.azure.net", certificate: api-s2s }
    server: { kind: manual }
    verify: { dataverseUrl: "https://contoso.crm.dynamics.com" }
  - name: shop
    kind: power-pages
    environmentId: "33333333-2222-4333-8444-555555555555"
    websiteId: "44444444-2222-4333-8444-555555555555"
    app: { appId: "55555555-2222-4333-8444-555555555555" }
`,
  'doctor.yaml',
  '/tmp',
);

const allowed: DoctorProbes = {
  appWrite: async () => ({ ok: true, detail: 'owner' }),
  vaultCertificatesRead: async () => ({ ok: true }),
  vaultSecretRead: async () => ({ ok: true }),
  dataverseWhoAmI: async () => ({ ok: true }),
  powerPlatformSite: async () => ({ ok: true }),
};

describe('runDoctor', () => {
  it('checks every step of each kind; certificate create is unverified, never probed by a write', async () => {
    const checks = await runDoctor(config.targets, allowed, 'the identity');
    expect(checks.map((c) => `${c.target} ${c.check} ${c.result}`)).toEqual([
      'api graph-app-write ok',
      'api keyvault-certificate-read ok',
      'api keyvault-secret-get ok',
      'api keyvault-certificate-create unverified',
      'api dataverse-whoami ok',
      'shop graph-app-write ok',
      'shop power-platform-site ok',
    ]);
    expect(checks.find((c) => c.check === 'keyvault-certificate-create')?.grant).toContain(
      'Key Vault Certificates Officer',
    );
  });

  it('names the role to grant for a denied secret read, and skips the check that needs the key', async () => {
    const checks = await runDoctor(
      config.targets,
      { ...allowed, vaultSecretRead: async () => ({ ok: false, detail: 'forbidden: 403' }) },
      'the identity',
    );
    const secret = checks.find((c) => c.check === 'keyvault-secret-get');
    expect(secret).toMatchObject({ result: 'failed', detail: 'forbidden: 403' });
    expect(secret?.grant).toMatch(
      /^Azure role "Key Vault Secrets User" for the identity on vault https:\/\/kv.vault.azure.net/,
    );
    expect(checks.find((c) => c.check === 'dataverse-whoami')?.result).toBe('skipped');
  });

  it('turns a probe that throws into a failed check with its message', async () => {
    const checks = await runDoctor(
      config.targets,
      {
        ...allowed,
        appWrite: async () => {
          throw new Error('graph down');
        },
      },
      'the identity',
    );
    const graph = checks.filter((c) => c.check === 'graph-app-write');
    expect(graph.map((c) => [c.result, c.detail])).toEqual([
      ['failed', 'graph down'],
      ['failed', 'graph down'],
    ]);
    expect(graph[0]?.grant).toContain('Application.ReadWrite.OwnedBy');
  });
});

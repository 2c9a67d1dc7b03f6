import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config/load.js';

const good = `tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
cloud:
  authorityHost: https://127.0.0.1:8443
  caFile: ./ca.pem
auth: { kind: client-secret, clientId: 11111111-2222-3333-4444-555555555555, clientSecretEnv: OPERATOR_SECRET }
state: { kind: file, dir: .certrotate }
defaults: { rotateBefore: 60d, verifyTimeout: 10m, retireAfter: 0s }
targets:
  - name: contoso-api
    kind: keyvault
    app: { appId: 11111111-2222-3333-4444-555555555555 }
    keyVault: { url: https://kv-contoso.vault.azure.net, certificate: contoso-s2s, subject: CN=contoso-s2s,
                validityMonths: 24, keyType: RSA, keySize: 2048 }
    server: { kind: webhook, url: https://api.contoso.example/admin/s2s-key }
    verify: { dataverseUrl: https://contoso.crm.dynamics.com }
  - name: contoso-portal
    kind: power-pages
    environmentId: 0a1b2c3d-0000-0000-0000-000000000000
    websiteId: 5e6f7a8b-0000-0000-0000-000000000000
    app: { appId: 99999999-8888-7777-6666-555555555555 }
`;

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'certrotate.yaml', '/etc/certrotate');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('config', () => {
  it('accepts the DESIGN §5a example, applies defaults and resolves paths against the config file', () => {
    const cfg = parseConfig(good, 'certrotate.yaml', '/etc/certrotate');
    expect((cfg.state as { dir?: string }).dir).toBe('/etc/certrotate/.certrotate');
    expect(cfg.cloud).toEqual({
      authorityHost: 'https://127.0.0.1:8443',
      graphUrl: 'https://graph.microsoft.com',
      powerPlatformUrl: 'https://api.powerplatform.com',
      caFile: '/etc/certrotate/ca.pem',
    });
    expect(cfg.defaults).toEqual({
      rotateBefore: 60 * 86_400_000,
      verifyTimeout: 600_000,
      retireAfter: 0,
      readSettle: 120_000,
    });
    const [kv, pp] = cfg.targets;
    expect(kv).toMatchObject({ kind: 'keyvault', server: { kind: 'webhook', timeout: 60_000 } });
    expect(pp).toMatchObject({ kind: 'power-pages', resumeTimeout: 30 * 60_000 });
  });

  it('defaults everything but tenantId', () => {
    const cfg = parseConfig('tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47\n', 'c.yaml', '/x');
    expect(cfg.auth).toEqual({ kind: 'default' });
    expect(cfg.targets).toEqual([]);
  });

  it('names the line, field, value and expectation of a bad key size', () => {
    const problems = problemsOf(good.replace('keySize: 2048', 'keySize: 1024'));
    expect(problems).toEqual([
      expect.stringMatching(/^line 13, targets\[0\].keyVault\.keySize: got 1024; expected 2048, 3072 or 4096$/),
    ]);
  });

  it('refuses an unknown key, so a typo cannot disable a safety setting', () => {
    const problems = problemsOf(good.replace('    verify:', '    retireAfer: 1d\n    verify:'));
    expect(problems).toEqual([expect.stringMatching(/^line 15, targets\[0\]\.retireAfer: unknown key/)]);
  });

  it('explains a bad duration, a bad server kind and a bad GUID', () => {
    const problems = problemsOf(
      good
        .replace('rotateBefore: 60d', 'rotateBefore: 60 days')
        .replace('kind: webhook', 'kind: webhok')
        .replace('tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47', 'tenantId: contoso'),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^line 1, tenantId: got "contoso"; expected a GUID/));
    expect(problems).toContainEqual(
      expect.stringMatching(/defaults\.rotateBefore: got "60 days"; expected a duration such as 30s, 10m, 12h or 60d/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(
        /targets\[0\]\.server\.kind: got "webhok"; expected server\.kind to be one of webhook, command, file, manual/,
      ),
    );
  });

  it('never echoes a secret value', () => {
    const problems = problemsOf(
      good.replace('clientSecretEnv: OPERATOR_SECRET', 'clientSecret: 12345, clientSecretEnv: OPERATOR_SECRET'),
    );
    expect(problems.join('\n')).not.toContain('12345');
    const p2 = problemsOf(good.replace('clientSecretEnv: OPERATOR_SECRET', 'clientSecret: 98765'));
    expect(p2).toEqual([expect.stringMatching(/auth\.clientSecret: got a value \(not shown\)/)]);
    expect(p2.join('\n')).not.toContain('98765');
  });

  it('refuses duplicate target names', () => {
    const problems = problemsOf(good.replace('name: contoso-portal', 'name: contoso-api'));
    expect(problems).toEqual([
      expect.stringMatching(/targets\[1\]\.name: got "contoso-api"; duplicate target name \(targets\[0\]/),
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    const problems = problemsOf('tenantId: [unclosed\n');
    expect(problems[0]).toMatch(/^line \d+, column \d+: /);
    expect(problemsOf('- just\n- a list\n')[0]).toMatch(/expected a mapping/);
  });

  it('says which file is missing and how to point at another', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certrotate-cfg-'));
    await expect(loadConfig(join(dir, 'nope.yaml'))).rejects.toThrow(
      /does not exist.*--config FILE or set CERTROTATE_CONFIG/,
    );
    await writeFile(join(dir, 'certrotate.yaml'), good);
    const loaded = await loadConfig(join(dir, 'certrotate.yaml'));
    expect(loaded.stateDir).toBe(join(dir, '.certrotate'));
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseConfigWithWarnings } from '../../../src/config/load.js';

/** A config whose timings are the defaults; each test bends one setting. */
const base = (
  defaults: string,
  kv = 'validityMonths: 24',
  extra = '',
): string => `tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
defaults: { ${defaults} }
targets:
  - name: contoso-api
    kind: keyvault
    app: { appId: 11111111-2222-3333-4444-555555555555 }
    keyVault: { url: https://kv-contoso.vault.azure.net, certificate: contoso-s2s, ${kv} }
    server: { kind: manual }
    verify: { dataverseUrl: https://contoso.crm.dynamics.com }
${extra}`;

const portal = `  - name: contoso-portal
    kind: power-pages
    environmentId: 0a1b2c3d-0000-0000-0000-000000000000
    websiteId: 5e6f7a8b-0000-0000-0000-000000000000
    app: { appId: 99999999-8888-7777-6666-555555555555 }
    rotateBefore: 400d
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

describe('config sanity across fields', () => {
  it('accepts the defaults with no warning and defaults the subject to CN=<certificate>', () => {
    const { config, warnings } = parseConfigWithWarnings(base('rotateBefore: 60d'), 'c.yaml', '/x');
    expect(warnings).toEqual([]);
    expect(config.targets[0]).toMatchObject({ keyVault: { subject: 'CN=contoso-s2s' } });
  });

  it('refuses a rotateBefore that makes every new key due at once, naming both fields', () => {
    expect(problemsOf(base('rotateBefore: 800d'))).toEqual([
      expect.stringMatching(
        /^line 2, defaults\.rotateBefore: target contoso-api: got 800d, not shorter than targets\[0\]\.keyVault\.validityMonths 24 \(about 730 days\): every new key would be due/,
      ),
    ]);
  });

  it('reports a target override at its own line rather than at defaults', () => {
    const text = base('rotateBefore: 60d', 'validityMonths: 12').replace(
      '    server: { kind: manual }',
      '    rotateBefore: 365d\n    server: { kind: manual }',
    );
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/^line 8, targets\[0\]\.rotateBefore: target contoso-api: got 365d/),
    ]);
  });

  it('warns, without refusing, when a new key would be rotated before half its life', () => {
    const { warnings } = parseConfigWithWarnings(base('rotateBefore: 400d'), 'c.yaml', '/x');
    expect(warnings).toEqual([
      expect.stringMatching(
        /^line 2, defaults\.rotateBefore: target contoso-api: 400d is more than half of .* rotated after 330 days/,
      ),
    ]);
  });

  it('refuses a zero verifyTimeout and an absurd duration', () => {
    expect(problemsOf(base('verifyTimeout: 0s'))).toEqual([
      expect.stringMatching(/^line 2, defaults\.verifyTimeout: target contoso-api: got 0s; expected at least 1s/),
    ]);
    expect(problemsOf(base('rotateBefore: 99999999999999999999d'))).toEqual([
      expect.stringMatching(
        /^line 2, defaults\.rotateBefore: got "99999999999999999999d"; expected a duration of at most 3650d/,
      ),
    ]);
  });

  it('warns about a verifyTimeout shorter than Entra propagation', () => {
    const { warnings } = parseConfigWithWarnings(base('verifyTimeout: 3s'), 'c.yaml', '/x');
    expect(warnings).toEqual([
      expect.stringMatching(
        /^line 2, defaults\.verifyTimeout: target contoso-api: 3s is shorter than Entra ID's usual/,
      ),
    ]);
  });

  it('refuses a retireAfter beyond the validity and warns when it outlasts rotateBefore', () => {
    expect(problemsOf(base('retireAfter: 800d'))).toContainEqual(
      expect.stringMatching(
        /^line 2, defaults\.retireAfter: target contoso-api: got 800d, not shorter than targets\[0\]\.keyVault\.validityMonths/,
      ),
    );
    const { warnings } = parseConfigWithWarnings(base('rotateBefore: 30d, retireAfter: 45d'), 'c.yaml', '/x');
    expect(warnings).toEqual([
      expect.stringMatching(
        /defaults\.retireAfter: target contoso-api: 45d is not shorter than defaults\.rotateBefore 30d/,
      ),
    ]);
  });

  it('warns when a Power Pages target would find one-year platform keys due at once', () => {
    const { warnings } = parseConfigWithWarnings(
      base('rotateBefore: 60d', 'validityMonths: 24', portal),
      'c.yaml',
      '/x',
    );
    expect(warnings).toEqual([
      expect.stringMatching(/^line 15, targets\[1\]\.rotateBefore: target contoso-portal: 400d is a year or more/),
    ]);
  });
});

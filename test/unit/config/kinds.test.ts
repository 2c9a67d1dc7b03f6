/** The config's `server` and `state` sections come from the kind registries (src/adapters/servers, state). */
import { describe, expect, it } from 'vitest';
import { SERVER_KINDS } from '../../../src/adapters/servers/index.js';
import { STATE_KINDS } from '../../../src/adapters/state/index.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const HEAD = 'tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47\n';

function keyvaultTarget(server: string): string {
  return `${HEAD}targets:
  - name: contoso-api
    kind: keyvault
    app: { appId: 11111111-2222-3333-4444-555555555555 }
    keyVault: { url: https://kv-contoso.vault.azure.net, certificate: contoso-s2s, subject: CN=contoso-s2s }
    server: ${server}
    verify: { dataverseUrl: https://contoso.crm.dynamics.com }
`;
}

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'certrotate.yaml', '/etc/certrotate');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('server kinds in the config', () => {
  it('lists each kind once, in the order the error message names them', () => {
    expect(SERVER_KINDS.map((k) => k.kind)).toEqual(['webhook', 'command', 'file', 'manual']);
  });

  it('parses each kind with its own schema and defaults', () => {
    const parse = (server: string) => {
      const t = parseConfig(keyvaultTarget(server), 'c.yaml', '/etc/certrotate').targets[0]!;
      return t.kind === 'keyvault' ? t.server : undefined;
    };
    expect(parse('{ kind: webhook, url: https://api.example/k }')).toEqual({
      kind: 'webhook',
      url: 'https://api.example/k',
      timeout: 60_000,
    });
    expect(parse('{ kind: command, run: [deploy-key, --now] }')).toEqual({
      kind: 'command',
      run: ['deploy-key', '--now'],
      pemFile: false,
      timeout: 300_000,
    });
    expect(parse('{ kind: manual }')).toEqual({ kind: 'manual' });
  });

  it("resolves a kind's relative paths against the config file (the file kind's path)", () => {
    const t = parseConfig(keyvaultTarget('{ kind: file, path: keys/s2s.pem }'), 'c.yaml', '/etc/certrotate');
    expect(t.targets[0]).toMatchObject({ server: { kind: 'file', path: '/etc/certrotate/keys/s2s.pem' } });
    const abs = parseConfig(keyvaultTarget('{ kind: file, path: /srv/s2s.pem }'), 'c.yaml', '/etc/certrotate');
    expect(abs.targets[0]).toMatchObject({ server: { path: '/srv/s2s.pem' } });
  });

  it("refuses a field of another kind, and a kind's own bad value, naming field, value and expectation", () => {
    expect(problemsOf(keyvaultTarget('{ kind: manual, url: https://api.example/k }'))).toEqual([
      expect.stringMatching(/targets\[0\]\.server\.url: unknown key/),
    ]);
    expect(problemsOf(keyvaultTarget('{ kind: webhook, url: http://api.example/k }'))).toEqual([
      expect.stringMatching(/targets\[0\]\.server\.url: got "http:\/\/api\.example\/k"; expected an https:\/\/ URL/),
    ]);
    expect(problemsOf(keyvaultTarget('{ kind: command, run: [] }'))).toEqual([
      expect.stringMatching(/targets\[0\]\.server\.run: got \[\]; expected \[program, \.\.\.args\]/),
    ]);
  });
});

describe('state kinds in the config', () => {
  it('lists file as the default state kind, and azure-blob', () => {
    expect(STATE_KINDS.map((k) => k.kind)).toEqual(['file', 'azure-blob']);
  });

  it('defaults to the file kind, with or without a state section or its kind, and resolves its dir', () => {
    for (const text of [HEAD, `${HEAD}state: { dir: run-state }\n`, `${HEAD}state: { kind: file }\n`]) {
      const cfg = parseConfig(text, 'c.yaml', '/etc/certrotate');
      expect(cfg.state.kind).toBe('file');
      expect((cfg.state as { dir?: string }).dir).toMatch(/^\/etc\/certrotate\/(\.certrotate|run-state)$/);
    }
    const abs = parseConfig(`${HEAD}state: { dir: /var/lib/cr }\n`, 'c.yaml', '/etc/certrotate').state;
    expect((abs as { dir?: string }).dir).toBe('/var/lib/cr');
  });

  it('names an unknown state kind and an unknown state key', () => {
    expect(problemsOf(`${HEAD}state: { kind: blob }\n`)).toEqual([
      expect.stringMatching(/^line 2, state\.kind: got "blob"; expected file or azure-blob$/),
    ]);
    expect(problemsOf(`${HEAD}state: { kind: file, dri: x }\n`)).toEqual([
      expect.stringMatching(/state\.dri: unknown key/),
    ]);
  });
});

describe('the azure-blob state kind in the config', () => {
  it('takes an https account URL and a container, with an empty prefix by default', () => {
    const cfg = parseConfig(
      `${HEAD}state: { kind: azure-blob, accountUrl: https://acct.blob.core.windows.net, container: certrotate }\n`,
      'c.yaml',
      '/etc/certrotate',
    );
    expect(cfg.state).toEqual({
      kind: 'azure-blob',
      accountUrl: 'https://acct.blob.core.windows.net',
      container: 'certrotate',
      prefix: '',
    });
  });

  it('names a plain-http account URL and a container name storage would refuse', () => {
    expect(problemsOf(`${HEAD}state: { kind: azure-blob, accountUrl: http://a.example, container: c1x }\n`)).toEqual([
      expect.stringMatching(/state\.accountUrl: got "http:\/\/a\.example"; expected an https:\/\/ URL/),
    ]);
    expect(
      problemsOf(`${HEAD}state: { kind: azure-blob, accountUrl: https://a.example, container: Cert_Rotate }\n`),
    ).toEqual([expect.stringMatching(/state\.container: got "Cert_Rotate"; expected a container name/)]);
  });
});

/**
 * What the operator reads is true and short (issue 10): the CLI as a process, its stderr and exit code asserted.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { addFaults, cli, editConfig, sandboxTarget, startE2eSandbox, type Sandbox } from '../helpers/sandbox.js';

describe('a sign-in no method can attempt', () => {
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certrotate-signin-'));
    config = join(dir, 'certrotate.yaml');
    await writeFile(
      config,
      [
        'tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47',
        'auth: { kind: default }',
        'targets:',
        '  - name: contoso-api',
        '    kind: keyvault',
        '    app: { appId: 11111111-2222-3333-4444-555555555555 }',
        '    keyVault: { url: https://kv-contoso.vault.azure.net, certificate: contoso-s2s, validityMonths: 24 }',
        '    server: { kind: manual, instructions: install it }',
        '    verify: { dataverseUrl: https://contoso.crm.dynamics.com }',
        '  - name: contoso-portal',
        '    kind: power-pages',
        '    environmentId: 0a1b2c3d-0000-0000-0000-000000000000',
        '    websiteId: 5e6f7a8b-0000-0000-0000-000000000000',
        '    app: { appId: 99999999-8888-7777-6666-555555555555 }',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /**
   * Nothing to sign in with: no AZURE_* / IDENTITY_* variables, HOME an empty directory (no az, azd or VS Code
   * profile), PATH without az, pwsh or azd. Managed identity's endpoint is left at its default, which the SDK probes
   * with a 1 s timeout and no retries (pointing it at a closed local port would make MSAL retry for ~20 s).
   */
  function bareEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { HOME: dir, USERPROFILE: dir, PATH: dir };
    for (const k of Object.keys(process.env)) {
      if (/^(AZURE_|IDENTITY_|MSI_|IMDS_)/.test(k)) env[k] = undefined;
    }
    return env;
  }

  it('scan says so once, in a sentence naming each method and what to do, and exits 1', async () => {
    const r = await runCli(['--config', config, 'scan'], { env: bareEnv(), timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    expect(line).toMatch(/^certrotate: error: cannot sign in to Azure: tried environment variables \(/);
    for (const method of ['managed identity (', 'Azure CLI (not installed)']) expect(line).toContain(method);
    expect(line).toContain('run `az login` here, use workload identity in a pipeline, or set auth.kind');
    expect(line).not.toMatch(/CredentialUnavailableError|aka\.ms|"level"/);
    expect(line.length).toBeLessThan(600);
  }, 40_000);
});

describe("Graph's read-lag window after an ambiguous addKey 503", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    // Two extra due keyvault targets (bench-0001, bench-0002) for the log tests below.
    sb = await startE2eSandbox({ targets: 2 });
  });
  afterAll(() => sb?.stop());

  it('is shown as a wait with what it waits for and until when, and lasts defaults.readSettle', async () => {
    const config = await editConfig(sb, 'read-settle.yaml', (doc) => doc.setIn(['defaults', 'readSettle'], '4s'));
    await addFaults(sb, [{ service: 'graph', method: 'POST', path: '*/addKey', status: 503, count: 1 }]);
    const started = Date.now();
    const r = await cli(config, ['rotate', 'contoso-api', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n');
    const retry = lines.findIndex((l) => l.startsWith('↻ attachKeyCredential retrying'));
    const wait = lines.findIndex((l) =>
      /^… attachKeyCredential waiting — for Graph's read-lag window before trusting that the key is absent until \d{4}-\d\d-\d\dT/.test(
        l,
      ),
    );
    expect(retry, r.stderr).toBeGreaterThanOrEqual(0);
    expect(wait, r.stderr).toBeGreaterThan(retry);
    // The configured 4 s, not the default 2 minutes.
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);

  it('a rotate of a key that is not due says how far off it is and that --force rotates anyway', async () => {
    const r = await cli(sb.configPath, ['rotate', 'fabrikam-api', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: not due \(\d+ days left; rotateBefore 60d\); --force rotates anyway/);
  }, 60_000);

  it('a full rotation in a pipe shows progress lines only: no log line between them, one line per step', async () => {
    const r = await cli(sb.configPath, ['rotate', 'bench-0001', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    // No pino JSON (nor anything else) lands between the step lines.
    expect(
      lines.filter((l) => l.startsWith('{')),
      r.stderr,
    ).toEqual([]);
    const runId = /■ run (\S+) succeeded/.exec(r.stderr)?.[1];
    expect(runId, r.stderr).toBeDefined();
    const shown = lines.map((l) => l.replaceAll(runId!, 'RUN_ID').replace(/until \d{4}-\S+/, 'until TIME'));
    expect(shown).toMatchInlineSnapshot(`
      [
        "→ observeTarget started",
        "✓ observeTarget succeeded",
        "→ generateCertificate started",
        "… generateCertificate waiting — for Key Vault to issue the new certificate version",
        "✓ generateCertificate succeeded",
        "→ attachKeyCredential started",
        "✓ attachKeyCredential succeeded",
        "→ awaitPropagation started",
        "✓ awaitPropagation succeeded",
        "→ installServerKey started",
        "✓ installServerKey succeeded",
        "→ verifyNewKey started",
        "✓ verifyNewKey succeeded",
        "→ retireOldKey started",
        "✓ retireOldKey succeeded",
        "■ run RUN_ID succeeded",
      ]
    `);
  }, 90_000);

  it('--log-level debug logs every HTTP call with its request ids to the log file, and no secret', async () => {
    const logFile = join(sb.dir, 'http-debug.log');
    const r = await cli(sb.configPath, [
      '--log-level',
      'debug',
      '--log-file',
      logFile,
      'rotate',
      'bench-0002',
      '--yes',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(logFile, 'utf8');
    const calls = text
      .split('\n')
      .filter((l) => l.includes('"http"'))
      .map((l) => (JSON.parse(l) as { http: Record<string, string | number> }).http);
    const t = sandboxTarget(sb, 'bench-0002');
    const of = (test: (url: string) => boolean) => calls.filter((c) => test(String(c.url)));
    const services = {
      'identity token': of((u) => /\/oauth2\/v2\.0\/token(\?|$)/.test(u)),
      graph: of((u) => u.includes(`/v1.0/applications/${t.objectId}`)),
      'key vault': of((u) => u.startsWith(t.vaultUrl!.replace(/\/+$/, ''))),
      dataverse: of((u) => u.includes('/api/data/')),
      'app server webhook': of((u) => u.includes('/admin/s2s-key')),
    };
    for (const [service, seen] of Object.entries(services)) {
      expect(seen.length, `${service} calls in\n${text}`).toBeGreaterThan(0);
      for (const c of seen) {
        expect(c.method, service).toMatch(/^(GET|POST|PATCH|PUT|DELETE)$/);
        expect(typeof c.status, service).toBe('number');
        expect(typeof c.durationMs, service).toBe('number');
      }
    }
    // The Microsoft services answer with request ids, and the SDKs send client request ids: both are logged.
    for (const service of ['graph', 'key vault'] as const) {
      expect(
        services[service].some((c) => c['x-ms-request-id'] || c['request-id']),
        `${service} request id`,
      ).toBe(true);
    }
    expect(services['key vault'].some((c) => c['x-ms-client-request-id'])).toBe(true);
    // Nothing secret: no key material, no bearer token, no client secret, no signature or SAS value.
    expect(text).not.toMatch(
      /PRIVATE KEY|eyJ[A-Za-z0-9_-]{10,}\.|Bearer |client_secret=(?!REDACTED)|[?&]sig=(?!REDACTED)/,
    );
    expect(text).not.toContain(sb.operator.clientSecret);
    // And stderr holds the progress lines and the debug lines only when asked: here the file has them.
    expect(r.stderr).toContain('✓ retireOldKey succeeded');
  }, 90_000);
});

/**
 * The admin API (state, history, request log, fault rules, Update key), the written config and ca.pem, and
 * `sandbox start` as a child process: ready line, then a clean stop on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startSandbox, type HistoryEvent, type Sandbox } from '../../src/sandbox/index.js';
import { certificateCredential, trustSandboxCa } from './sandbox-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0, targets: 2 });
  trustSandboxCa(sb.caPem);
});
afterAll(() => sb?.stop());

const getJson = async <T>(path: string): Promise<T> => (await (await fetch(`${sb.adminUrl}${path}`)).json()) as T;
const postJson = (path: string, body: unknown) =>
  fetch(`${sb.adminUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function whoAmIStatus(): Promise<number> {
  const server = sb.servers[0]!;
  const token = await certificateCredential(sb, server.appId, server.current().pemBundle).getToken(
    `${sb.urls.dataverse}/.default`,
  );
  return (
    await fetch(`${sb.urls.dataverse}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${token.token}` } })
  ).status;
}

describe('admin API', () => {
  it('GET /state shows apps, vaults, servers and sites of the seeded world', async () => {
    interface State {
      apps: {
        appId: string;
        objectId: string;
        target: string | null;
        keyCredentials: { keyId: string; thumbprint: string; start: string; end: string }[];
      }[];
      vaults: { url: string; certificates: { name: string; versions: { thumbprint: string; enabled: boolean }[] }[] }[];
      servers: { name: string; appId: string; thumbprint: string }[];
      sites: { websiteId: string; target: string; appId: string; status: string; thumbprint: string | null }[];
    }
    const state = await getJson<State>('/state');
    const byTarget = (name: string) => state.apps.find((a) => a.target === name)!;
    const daysLeft = (name: string) => (Date.parse(byTarget(name).keyCredentials[0]!.end) - Date.now()) / 86_400_000;
    expect(Math.round(daysLeft('contoso-api'))).toBe(30);
    expect(Math.round(daysLeft('fabrikam-api'))).toBe(400);
    expect(Math.round(daysLeft('contoso-portal'))).toBe(20);
    expect(Math.round(daysLeft('bench-0002'))).toBe(30);
    expect(byTarget('northwind-portal').keyCredentials).toEqual([]);
    expect(state.servers.map((s) => s.name)).toEqual(['contoso-api', 'fabrikam-api', 'bench-0001', 'bench-0002']);
    const contosoServer = state.servers.find((s) => s.name === 'contoso-api')!;
    expect(contosoServer.thumbprint).toBe(byTarget('contoso-api').keyCredentials[0]!.thumbprint);
    const vault = state.vaults.find((v) => v.url === sb.targets[0]!.vaultUrl)!;
    expect(vault.certificates.find((c) => c.name === 'contoso-s2s')!.versions[0]).toMatchObject({
      thumbprint: contosoServer.thumbprint,
      enabled: true,
    });
    expect(state.sites.find((s) => s.target === 'northwind-portal')).toMatchObject({
      status: 'running',
      thumbprint: null,
    });
  });

  it('GET /history starts with the seeded world, time-ordered, ISO times with milliseconds', async () => {
    const events = await getJson<HistoryEvent[]>('/history');
    const times = events.map((e) => e.time);
    expect([...times].sort()).toEqual(times);
    for (const t of times) expect(t).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(events[0]!.kind).toBe('appKeys');
    const seededApps = new Set(events.filter((e) => e.kind === 'appKeys').map((e) => (e as { appId: string }).appId));
    for (const t of sb.targets) expect(seededApps.has(t.appId)).toBe(true);
    expect(events.filter((e) => e.kind === 'serverKey')).toHaveLength(4);
    expect(events.filter((e) => e.kind === 'siteKey')).toHaveLength(1);
  });

  it('GET /requests logs service requests (not admin calls) with service, method, path and status', async () => {
    await whoAmIStatus();
    const log =
      await getJson<{ time: string; service: string; method: string; path: string; status: number }[]>('/requests');
    expect(log).toContainEqual(
      expect.objectContaining({ service: 'dataverse', method: 'GET', path: '/api/data/v9.2/WhoAmI', status: 200 }),
    );
    expect(log).toContainEqual(
      expect.objectContaining({ service: 'entra', method: 'POST', path: `/${sb.tenantId}/oauth2/v2.0/token` }),
    );
    expect(log.some((r) => r.service === 'admin')).toBe(false);
    await fetch(`${sb.targets[0]!.serverUrl}/health`);
    const health = (await getJson<{ service: string; instance: string; path: string }[]>('/requests')).filter(
      (r) => r.path === '/health',
    );
    expect(health.at(-1)).toMatchObject({ service: 'server', instance: 'contoso-api' });
  });

  it('applies fault rules by service, method, path and count; DELETE /faults clears them', async () => {
    const added = await postJson('/faults', {
      rules: [
        { service: 'dataverse', method: 'GET', path: '/api/data/v9.2/WhoAmI', status: 503, retryAfter: 0, count: 1 },
      ],
    });
    expect(added.status).toBe(200);
    const server = sb.servers[0]!;
    const token = await certificateCredential(sb, server.appId, server.current().pemBundle).getToken(
      `${sb.urls.dataverse}/.default`,
    );
    const call = () =>
      fetch(`${sb.urls.dataverse}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${token.token}` } });
    const faulted = await call();
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get('retry-after')).toBe('0');
    expect(await faulted.json()).toHaveProperty('error');
    expect((await call()).status).toBe(200);

    await postJson('/faults', { rules: [{ service: 'dataverse', status: 500, probability: 0 }] });
    expect((await call()).status).toBe(200);
    await postJson('/faults', { rules: [{ service: 'contoso-api', path: '/health', latencyMs: 150 }] });
    const started = Date.now();
    expect((await fetch(`${sb.targets[0]!.serverUrl}/health`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect((await getJson<{ rules: unknown[] }>('/faults')).rules).toHaveLength(3);
    expect((await fetch(`${sb.adminUrl}/faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await getJson<{ rules: unknown[] }>('/faults')).rules).toHaveLength(0);
  });

  it('applies a fault to a vault by its name and to Graph by path glob', async () => {
    await postJson('/faults', {
      rules: [
        { service: 'kv-contoso', status: 429, retryAfter: 7, count: 1 },
        { service: 'graph', method: 'POST', path: '/v1.0/applications/*/addKey', status: 503, count: 1 },
      ],
    });
    const vault = await fetch(`${sb.targets[0]!.vaultUrl}/certificates/contoso-s2s?api-version=7.6`);
    expect(vault.status).toBe(429);
    expect(vault.headers.get('retry-after')).toBe('7');
    const graph = await fetch(`${sb.urls.graph}/v1.0/applications/${sb.targets[0]!.objectId}/addKey`, {
      method: 'POST',
    });
    expect(graph.status).toBe(503);
    expect(((await graph.json()) as { error: { innerError: object } }).error.innerError).toBeDefined();
    await fetch(`${sb.adminUrl}/faults`, { method: 'DELETE' });
  });

  it('adds the global latency (--latency) to every service request but not to admin calls', async () => {
    sb.instrumentation.latencyMs = 250;
    try {
      let started = Date.now();
      await fetch(`${sb.targets[0]!.serverUrl}/health`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      started = Date.now();
      await fetch(`${sb.adminUrl}/faults`);
      expect(Date.now() - started).toBeLessThan(250);
    } finally {
      sb.instrumentation.latencyMs = 0;
    }
  });

  it('refuses malformed fault rules with 400', async () => {
    expect((await postJson('/faults', { rules: [{ status: 500 }] })).status).toBe(400);
    expect((await postJson('/faults', { rules: [{ service: 'graph', probability: 2 }] })).status).toBe(400);
  });
});

describe('written files', () => {
  it('writes ca.pem and a certrotate.yaml that the config loader accepts, naming every target', async () => {
    expect(await readFile(join(sb.dir, 'ca.pem'), 'utf8')).toBe(sb.caPem);
    expect((await stat(sb.configPath)).mode & 0o777).toBe(0o600);
    const { config } = await loadConfig(sb.configPath);
    expect(config.tenantId).toBe(sb.tenantId);
    expect(config.cloud).toEqual({
      authorityHost: sb.urls.entra,
      graphUrl: sb.urls.graph,
      powerPlatformUrl: sb.urls.powerPlatform,
      caFile: join(sb.dir, 'ca.pem'),
    });
    expect(config.auth).toMatchObject({
      kind: 'client-secret',
      clientId: sb.operator.clientId,
      clientSecret: sb.operator.clientSecret,
    });
    expect(config.targets.map((t) => t.name)).toEqual([
      'contoso-api',
      'fabrikam-api',
      'contoso-portal',
      'northwind-portal',
      'bench-0001',
      'bench-0002',
    ]);
    const contoso = config.targets[0]!;
    if (contoso.kind !== 'keyvault' || contoso.server.kind !== 'webhook')
      throw new Error('contoso-api should be a webhook keyvault target');
    expect(contoso.keyVault).toMatchObject({
      url: sb.targets[0]!.vaultUrl,
      certificate: 'contoso-s2s',
      subject: 'CN=contoso-s2s',
    });
    expect(contoso.server.url).toBe(`${sb.targets[0]!.serverUrl}/admin/s2s-key`);
    expect(contoso.verify.dataverseUrl).toBe(sb.urls.dataverse);
    const portal = config.targets.find((t) => t.name === 'contoso-portal')!;
    expect(portal).toMatchObject({
      kind: 'power-pages',
      websiteId: sb.targets[2]!.websiteId,
      app: { appId: sb.targets[2]!.appId },
    });
  });
});

describe('sandbox start (child process)', () => {
  const distCommand = fileURLToPath(new URL('../../dist/commands/sandbox.js', import.meta.url));

  it('prints the ready line, serves, and stops cleanly on SIGTERM', async () => {
    if (!existsSync(distCommand)) throw new Error('dist/commands/sandbox.js is missing: run `npm run build` first');
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-cli-'));
    // The lead wires the command into src/cli.ts; this drives the command module itself through commander.
    const script = `
      const { Command } = await import('commander');
      const { registerSandboxCommand } = await import(${JSON.stringify(distCommand)});
      const program = new Command();
      registerSandboxCommand(program);
      await program.parseAsync(process.argv.slice(1), { from: 'user' });`;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, 'sandbox', 'start', '--dir', dir, '--propagation-delay', '0'],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await new Promise<{ ready: boolean; admin: string; config: string }>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const line = stdout.split('\n')[0];
        if (stdout.includes('\n') && line)
          resolve(JSON.parse(line) as { ready: boolean; admin: string; config: string });
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
    });
    expect(ready).toEqual({
      ready: true,
      admin: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/),
      config: join(dir, 'certrotate.yaml'),
    });
    trustSandboxCa(await readFile(join(dir, 'ca.pem'), 'utf8'));
    const state = (await (await fetch(`${ready.admin}/state`)).json()) as { servers: unknown[] };
    expect(state.servers).toHaveLength(2);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    await expect(fetch(`${ready.admin}/state`)).rejects.toThrow();
  });
});

/**
 * I4 no secrets at rest or in output: every artifact of real runs — the state directory (snapshots, journals, plans,
 * locks), debug log files, stdout and stderr — is searched for private key material (PEM `PRIVATE KEY` blocks, the
 * base64 body of every key the sandbox's vaults and servers hold), access tokens and the operator's client secret.
 * The runs cover a plain success, a saved plan, a rollback with faults on the way, plan, scan, runs and show.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from '../helpers/cli.js';
import { filesUnder, privateKeyBodies } from '../helpers/key-material.js';
import {
  addFaults,
  clearFaults,
  cli,
  editConfig,
  getState,
  parseJson,
  startE2eSandbox,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

/** Every private key the sandbox holds: the vaults' enabled versions (read as a server would) and the servers' keys. */
async function sandboxPrivateKeys(sb: Sandbox): Promise<string[]> {
  const bodies = new Set<string>();
  for (const server of sb.servers) {
    for (const key of [server.current(), server.previous()])
      if (key) privateKeyBodies(key.pemBundle).forEach((b) => bodies.add(b));
  }
  const tlsOptions = { ca: sb.caPem };
  const credential = new ClientSecretCredential(sb.tenantId, sb.operator.clientId, sb.operator.clientSecret, {
    authorityHost: sb.urls.entra,
    disableInstanceDiscovery: true,
    tlsOptions,
  });
  for (const vault of (await getState(sb)).vaults) {
    const client = new SecretClient(vault.url, credential, { tlsOptions, disableChallengeResourceVerification: true });
    for (const cert of vault.certificates) {
      for (const v of cert.versions.filter((x) => x.enabled)) {
        const secret = await client.getSecret(cert.name, { version: v.version });
        privateKeyBodies(secret.value ?? '').forEach((b) => bodies.add(b));
      }
    }
  }
  return [...bodies];
}

describe('no private key, token or secret in any artifact', () => {
  let sb: Sandbox;
  const outputs: { label: string; text: string }[] = [];
  const logFiles: string[] = [];
  let runIds: string[] = [];

  const record = (label: string, r: CliResult) => {
    outputs.push({ label: `${label} stdout`, text: r.stdout }, { label: `${label} stderr`, text: r.stderr });
    return r;
  };

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 1 });
    const config = sb.configPath;
    const log = (name: string) => {
      const path = join(sb.dir, name);
      logFiles.push(path);
      return ['--log-level', 'debug', '--log-file', path];
    };
    const planFile = join(sb.dir, 'contoso-api.plan.json');
    record('scan', await cli(config, [...log('scan.log'), 'scan']));
    record('plan', await cli(config, [...log('plan.log'), 'plan', 'contoso-api', '--out', planFile]));
    const ok = record(
      'rotate',
      await cli(config, [...log('rotate.log'), '--json', 'rotate', 'contoso-api', '--plan', planFile]),
    );
    expect(ok.code, ok.stderr).toBe(0);
    // A rollback with faults on the way: errors are where request bodies and tokens tend to leak into logs.
    const shortVerify = await editConfig(sb, 'short-verify.yaml', (d) => d.setIn(['defaults', 'verifyTimeout'], '3s'));
    await addFaults(sb, [
      { service: 'keyvault', method: 'POST', path: '/certificates/*/create', status: 503, count: 1 },
      { service: 'server', method: 'POST', path: '/admin/s2s-key', status: 500, count: 1 },
      // WhoAmI refuses the new key's token: a rejection, so the run rolls back (an outage would park it).
      { service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 403 },
    ]);
    const rolledBack = record(
      'rollback',
      await cli(shortVerify, [...log('rollback.log'), 'rotate', 'bench-0001', '--yes']),
    );
    await clearFaults(sb);
    expect(rolledBack.code, rolledBack.stderr).toBe(1);
    expect(rolledBack.stdout).toMatch(/rolledBack/);
    runIds = [parseJson<RunDocument>(ok).runId];
    const runs = record('runs', await cli(config, ['--json', 'runs']));
    runIds = parseJson<{ runs: { runId: string }[] }>(runs).runs.map((r) => r.runId);
    for (const id of runIds) {
      record(`show ${id}`, await cli(config, ['--log-level', 'debug', 'show', id]));
      record(`show ${id} --json`, await cli(config, ['--json', 'show', id]));
    }
  }, 240_000);
  afterAll(() => sb?.stop());

  async function artifacts(): Promise<{ label: string; text: string }[]> {
    const files = [
      ...(await filesUnder(join(sb.dir, '.certrotate'))),
      ...logFiles,
      join(sb.dir, 'contoso-api.plan.json'),
    ];
    const read = await Promise.all(files.map(async (f) => ({ label: f, text: await readFile(f, 'utf8') })));
    return [...read, ...outputs];
  }

  it('searches real artifacts: snapshots, journals, plans, debug logs', async () => {
    expect(runIds).toHaveLength(2);
    const files = await filesUnder(join(sb.dir, '.certrotate'));
    for (const id of runIds) {
      expect(files).toContain(join(sb.dir, '.certrotate', 'runs', id, 'snapshot.json'));
      expect(files).toContain(join(sb.dir, '.certrotate', 'runs', id, 'journal.jsonl'));
    }
    expect(files.some((f) => f.endsWith('plan.json'))).toBe(true);
    const rotateLog = await readFile(join(sb.dir, 'rotate.log'), 'utf8');
    expect(rotateLog).toMatch(/"level":20/);
  });

  it('holds no PEM private key block and no access token', async () => {
    for (const a of await artifacts()) {
      expect(a.text, a.label).not.toMatch(/PRIVATE KEY/);
      expect(a.text, a.label).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    }
  });

  it("holds no part of any key the sandbox's vaults and servers hold, nor the operator's secret", async () => {
    const keys = await sandboxPrivateKeys(sb);
    // Old and new keys of both rotated targets, and of the untouched ones.
    expect(keys.length).toBeGreaterThanOrEqual(4);
    // 40-character slices every 200 characters: a key copied whole, in part or line-wrapped is caught.
    const needles = keys.flatMap((k) =>
      Array.from({ length: Math.floor((k.length - 40) / 200) + 1 }, (_, i) => k.slice(i * 200, i * 200 + 40)),
    );
    const holdsKey = (text: string) => {
      const flat = text.replace(/\\[nr]|\s/g, '');
      return needles.some((needle) => flat.includes(needle));
    };
    // The search finds a key that was written out, line-wrapped and JSON-escaped, in the middle of a log line.
    const wrapped = keys[0]!.slice(150, 600).replace(/.{64}/g, '$&\\n');
    expect(holdsKey(`{"msg":"oops","detail":"${wrapped}"}`)).toBe(true);
    for (const a of await artifacts()) {
      expect(holdsKey(a.text), `${a.label} holds key material`).toBe(false);
      expect(a.text.includes(sb.operator.clientSecret), `${a.label} holds the operator's client secret`).toBe(false);
    }
  });
});

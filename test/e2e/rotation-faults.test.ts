/**
 * Faults on every service a rotation calls (sandbox fault rules: 429 with Retry-After, 500, 503, slow answers), one
 * service at a time: the rotation converges or rolls back cleanly, with I1–I3 held. And a verification whose new
 * key is rejected — WhoAmI refusing its token, or Entra propagating it later than `verifyTimeout` — ends in
 * `rolledBack` with the old key still working (an outage parks instead: verify-outage.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addFaults,
  admin,
  checkI1,
  checkI2,
  checkI3,
  clearFaults,
  cli,
  editConfig,
  getHistory,
  getState,
  parseJson,
  sandboxTarget,
  serverHealth,
  startE2eSandbox,
  targetState,
  type FaultRule,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

const TOKEN = '*/oauth2/v2.0/token';

/** Per service: a 429 with Retry-After, a 503, a 500 and slow answers, aimed at the calls a rotation makes. */
const FAULTS: Record<string, FaultRule[]> = {
  entra: [
    { service: 'entra', method: 'POST', path: TOKEN, status: 429, retryAfter: 1, count: 2 },
    { service: 'entra', method: 'POST', path: TOKEN, status: 503, count: 1 },
    { service: 'entra', method: 'GET', status: 500, count: 1 },
    { service: 'entra', latencyMs: 500, count: 2 },
  ],
  graph: [
    { service: 'graph', method: 'POST', path: '*/addKey', status: 429, retryAfter: 1, count: 1 },
    { service: 'graph', method: 'POST', path: '*/removeKey', status: 503, count: 1 },
    { service: 'graph', method: 'GET', status: 500, count: 1 },
    { service: 'graph', latencyMs: 500, count: 2 },
  ],
  keyvault: [
    { service: 'keyvault', method: 'POST', path: '/certificates/*/create', status: 429, retryAfter: 1, count: 1 },
    { service: 'keyvault', method: 'GET', path: '/certificates/*/pending', status: 503, count: 1 },
    { service: 'keyvault', method: 'PATCH', status: 500, count: 1 },
    { service: 'keyvault', latencyMs: 500, count: 2 },
  ],
  dataverse: [
    { service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 429, retryAfter: 1, count: 1 },
    { service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 503, count: 1 },
    { service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 500, count: 1 },
    { service: 'dataverse', latencyMs: 500, count: 1 },
  ],
  server: [
    { service: 'server', method: 'POST', path: '/admin/s2s-key', status: 503, count: 1 },
    { service: 'server', method: 'POST', path: '/admin/s2s-key', status: 429, retryAfter: 1, count: 1 },
    { service: 'server', method: 'GET', path: '/health', status: 500, count: 1 },
    { service: 'server', latencyMs: 500, count: 1 },
  ],
};

/** Checks what a finished run left behind: either the new key everywhere, or the old one restored. */
async function expectCleanEnd(sb: Sandbox, target: string, doc: RunDocument, oldThumbprint: string, runIds: string[]) {
  const t = sandboxTarget(sb, target);
  const { app, server, versions } = await targetState(sb, target);
  const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
  const ref = { appId: t.appId, server: target };
  expect(checkI1(history, ref)).toEqual([]);
  if (doc.outcome === 'succeeded') {
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
    expect(server!.thumbprint).toBe(doc.newThumbprint);
    expect(versions.find((v) => v.thumbprint === oldThumbprint)?.enabled).toBe(false);
    expect(checkI2(history, { ...ref, oldThumbprint, newThumbprint: doc.newThumbprint! })).toEqual([]);
    expect(checkI3(history, state, { ...ref, vaultUrl: t.vaultUrl!, certificate: t.certificate!, runIds })).toEqual([]);
  } else {
    expect(doc.outcome).toBe('rolledBack');
    // Rolled back: the old key is the only one on the app, the server uses it, and it still works.
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([oldThumbprint]);
    expect(server!.thumbprint).toBe(oldThumbprint);
    expect(versions.find((v) => v.thumbprint === oldThumbprint)?.enabled).toBe(true);
    for (const v of versions.filter((x) => x.thumbprint !== oldThumbprint)) expect(v.enabled).toBe(false);
  }
  const health = await serverHealth(sb, target);
  expect(health.status, health.body).toBe(200);
}

describe('rotation under faults', () => {
  let sb: Sandbox;
  const services = Object.keys(FAULTS);

  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: services.length + 1 });
  });
  afterAll(() => sb?.stop());

  it.each(services.map((s, i) => [s, i]))('converges with faults on %s', async (service, i) => {
    const target = `bench-${String(i + 1).padStart(4, '0')}`;
    const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
    await clearFaults(sb);
    await addFaults(sb, FAULTS[service]!);
    let r;
    try {
      r = await cli(sb.configPath, ['rotate', target, '--yes', '--json']);
    } finally {
      const { rules } = await admin<{ rules: (FaultRule & { remaining: number | null })[] }>(sb, 'GET', '/faults');
      await clearFaults(sb);
      // Every rule fired as often as it was meant to: the faults really hit the rotation's calls.
      expect(rules.map((x) => x.remaining)).toEqual(rules.map(() => 0));
    }
    const doc = parseJson<RunDocument>(r);
    expect(['succeeded', 'rolledBack'], r.stderr).toContain(doc.outcome);
    expect(r.code).toBe(doc.outcome === 'succeeded' ? 0 : 1);
    await expectCleanEnd(sb, target, doc, oldThumbprint, [doc.runId]);
    // Transient faults are retried, not taken as the end of the run.
    expect(doc.outcome, JSON.stringify(doc.steps, null, 2)).toBe('succeeded');
  });

  it('rolls back when Dataverse WhoAmI refuses the new key, leaving the old key working', async () => {
    const target = `bench-${String(services.length + 1).padStart(4, '0')}`;
    const oldThumbprint = (await targetState(sb, target)).server!.thumbprint;
    const config = await editConfig(sb, 'short-verify.yaml', (doc) => doc.setIn(['defaults', 'verifyTimeout'], '4s'));
    // A definite rejection (403), not an outage: a Dataverse that does not answer parks the run instead.
    await addFaults(sb, [{ service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 403 }]);
    let r;
    try {
      r = await cli(config, ['rotate', target, '--yes', '--json']);
    } finally {
      await clearFaults(sb);
    }
    expect(r.code, r.stderr).toBe(1);
    const doc = parseJson<RunDocument>(r);
    expect(doc.outcome).toBe('rolledBack');
    expect(doc.steps.find((s) => s.name === 'verifyNewKey')?.status).toBe('failed');
    await expectCleanEnd(sb, target, doc, oldThumbprint, [doc.runId]);
  });
});

describe('rotation whose new key propagates later than verifyTimeout', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox({ propagationDelaySeconds: 60 });
  });
  afterAll(() => sb?.stop());

  it('ends in rolledBack with the old key still working', async () => {
    const oldThumbprint = (await targetState(sb, 'contoso-api')).server!.thumbprint;
    const config = await editConfig(sb, 'short-verify.yaml', (doc) => doc.setIn(['defaults', 'verifyTimeout'], '3s'));
    const r = await cli(config, ['rotate', 'contoso-api', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const doc = parseJson<RunDocument>(r);
    expect(doc.outcome).toBe('rolledBack');
    await expectCleanEnd(sb, 'contoso-api', doc, oldThumbprint, [doc.runId]);
    // The new key never reached the server: it was never proven to work.
    const history = await getHistory(sb);
    expect(history.some((e) => e.kind === 'serverKey' && e.thumbprint === doc.newThumbprint)).toBe(false);
  });
});

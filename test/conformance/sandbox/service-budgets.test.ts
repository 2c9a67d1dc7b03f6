/**
 * The sandbox's service budgets, modelled on the published limits (fleet-state.md §4, §5): Graph writes per caller
 * app and tenant and per tenant, answered with 429, `Retry-After` and Graph's `x-ms-throttle-*` headers (and
 * `x-ms-throttle-limit-percentage` from 80 % of a budget); Key Vault certificate creates per vault per 10 s answered
 * with 429 and `Retry-After`. `GET /budgets` on the admin API counts what each budget accepted and refused, so tests
 * and benchmarks can assert a run never exceeded one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../src/sandbox/index.js';
import type { BudgetReport } from '../../../src/sandbox/budgets.js';
import { VaultWire, clientSecretTokens, createBody } from './keyvault-client.js';
import { graph, https, secretToken } from './wire.js';

let sb: Sandbox;
let token: string;

beforeAll(async () => {
  sb = await startSandbox({
    propagationDelaySeconds: 0,
    graphWriteBudget: { writes: 5, windowSeconds: 150 },
    graphTenantWriteBudget: { writes: 8, windowSeconds: 300 },
    vaultCertificateCreatesPer10s: 2,
  });
  token = await secretToken(sb, sb.operator.clientId, sb.operator.clientSecret, 'https://graph.microsoft.com/.default');
});
afterAll(() => sb?.stop());

async function budgets(): Promise<BudgetReport[]> {
  const res = await https(sb, 'GET', `${sb.adminUrl}/budgets`);
  expect(res.status).toBe(200);
  return res.body as unknown as BudgetReport[];
}

const rename = (objectId: string, i: number) =>
  graph(sb, token, 'PATCH', `/v1.0/applications/${objectId}`, { displayName: `contoso-api ${i}` });

describe('Graph write budgets', () => {
  it('throttles writes past the app+tenant budget, then the tenant budget, with Retry-After and the throttle headers', async () => {
    const app = sb.targets.find((t) => t.name === 'contoso-api')!;
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await rename(app.objectId, i));
    expect(answers.map((a) => a.status)).toEqual([204, 204, 204, 204, 204, 429]);
    // Graph: the percentage header appears once a caller has used 80 % of a budget (4 of 5 here).
    expect(answers[2]!.headers['x-ms-throttle-limit-percentage']).toBeUndefined();
    expect(answers[3]!.headers['x-ms-throttle-limit-percentage']).toBe('0.80');
    const refused = answers[5]!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['x-ms-throttle-scope']).toMatch(/^Tenant_Application\/ReadWrite\//);
    expect(refused.headers['x-ms-throttle-information']).toBe('WriteLimitExceeded');
    expect((refused.body as { error: { code: string } }).error.code).toBe('Request_ThrottledTemporarily');

    // After the app window (150 s) the app may write again, until the tenant's 5-minute window (8) is full.
    sb.clock.advance(151_000);
    const later = [];
    for (let i = 0; i < 4; i++) later.push(await rename(app.objectId, 10 + i));
    expect(later.map((a) => a.status)).toEqual([204, 204, 204, 429]);
    expect(later[3]!.headers['x-ms-throttle-scope']).toMatch(/^Tenant\/ReadWrite\//);

    const report = await budgets();
    const appBudget = report.find((b) => b.name === 'graph.writes.appTenant')!;
    const tenantBudget = report.find((b) => b.name === 'graph.writes.tenant')!;
    expect(appBudget).toMatchObject({ limit: 5, windowSeconds: 150 });
    expect(Object.values(appBudget.keys)).toEqual([{ accepted: 8, throttled: 1, peakInWindow: 5 }]);
    expect(Object.values(tenantBudget.keys)).toEqual([{ accepted: 8, throttled: 1, peakInWindow: 8 }]);
  });
});

describe('Key Vault certificate-create budget', () => {
  it('answers the create past the per-vault budget with 429 and Retry-After, and counts it', async () => {
    const vaultUrl = sb.targets.find((t) => t.name === 'fabrikam-api')!.vaultUrl!;
    const kv = new VaultWire(
      vaultUrl,
      sb.caPem,
      clientSecretTokens(sb.operator.clientId, sb.operator.clientSecret, sb.caPem),
    );
    const statuses = [];
    let refused;
    for (let i = 0; i < 3; i++) {
      const res = await kv.send('POST', `/certificates/budget-${i}/create`, createBody(`CN=budget-${i}`));
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).toEqual([202, 202, 429]);
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused!.headers['retry-after'])).toBeLessThanOrEqual(10);
    // Refused requests do not count (Key Vault): after the window, creates are admitted again.
    sb.clock.advance(10_001);
    expect((await kv.send('POST', '/certificates/budget-3/create', createBody('CN=budget-3'))).status).toBe(202);
    const creates = (await budgets()).find((b) => b.name === 'keyvault.certificateCreates')!;
    expect(creates).toMatchObject({ limit: 2, windowSeconds: 10 });
    expect(Object.values(creates.keys)).toEqual([{ accepted: 3, throttled: 1, peakInWindow: 2 }]);
  });
});

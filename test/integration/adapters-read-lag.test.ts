/**
 * Directory reads lag writes (graph-entra §3.3): against a sandbox whose Graph reads run a second behind, addKey,
 * removeKey and PATCH return only once reads show their change, so the next step's observation is not stale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureAdapters, type AzureAdapters } from '../../src/adapters/azure/index.js';
import type { KeyRef } from '../../src/adapters/ports.js';
import { loadConfig } from '../../src/config/load.js';
import type { KeyVaultTargetConfig } from '../../src/config/schema.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';

let sb: Sandbox;
let target: KeyVaultTargetConfig;
let adapters: AzureAdapters;
let oldKey: KeyRef;
let newKey: KeyRef;

beforeAll(async () => {
  sb = await startSandbox({ graphReadLagSeconds: 1, propagationDelaySeconds: 0, kvCreateDelaySeconds: 0 });
  const config = (await loadConfig(sb.configPath)).config;
  target = config.targets.find((t): t is KeyVaultTargetConfig => t.name === 'contoso-api')!;
  adapters = createAzureAdapters(config, { consistency: { consecutive: 3, intervalMs: 100, timeoutMs: 10_000 } });
  const store = adapters.certificates(target);
  const [current] = await store.listVersions(target.keyVault.certificate);
  oldKey = { secretId: current!.secretId, thumbprint: current!.thumbprint };
  const op = await store.beginCreate(
    target.keyVault.certificate,
    {
      subject: target.keyVault.subject,
      validityMonths: 12,
      keyType: 'RSA',
      keySize: 2048,
      contentType: 'application/x-pem-file',
    },
    {},
  );
  let s = await store.pollCreate(op);
  while (s.status === 'inProgress') {
    sb.clock.advance(1000);
    s = await store.pollCreate(op);
  }
  if (s.status !== 'completed') throw new Error('create failed');
  newKey = { secretId: s.version.secretId, thumbprint: s.version.thumbprint };
});
afterAll(() => sb?.stop());

const graphGets = () => sb.instrumentation.requests().filter((r) => r.service === 'graph' && r.method === 'GET').length;

describe('writes are awaited in reads', () => {
  it('addKey returns once reads show the new key; the very next read sees it', async () => {
    const started = Date.now();
    const before = graphGets();
    const added = await adapters.apps.addKey(target.app.appId, newKey, oldKey);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // More reads than the three in a row: the first ones after the write still showed the old set.
    expect(graphGets() - before).toBeGreaterThan(5);
    const app = await adapters.apps.getApp(target.app.appId);
    expect(app.keyCredentials.map((k) => k.keyId)).toContain(added.keyId);
  });

  it('removeKey returns once reads no longer show the key', async () => {
    const app = await adapters.apps.getApp(target.app.appId);
    const oldId = app.keyCredentials.find((k) => k.thumbprint === oldKey.thumbprint)!.keyId;
    await adapters.apps.removeKey(target.app.appId, oldId, newKey);
    expect((await adapters.apps.getApp(target.app.appId)).keyCredentials.map((k) => k.keyId)).not.toContain(oldId);
  });

  it('PATCH returns once reads show the merged set', async () => {
    const [added] = await adapters.apps.patchKeyCredentials(target.app.appId, { add: [oldKey] });
    expect(added?.thumbprint).toBe(oldKey.thumbprint);
    const app = await adapters.apps.getApp(target.app.appId);
    expect(app.keyCredentials.map((k) => k.thumbprint).sort()).toEqual([oldKey.thumbprint, newKey.thumbprint].sort());
  });
});

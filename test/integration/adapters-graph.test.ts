/**
 * The Entra-side adapters (AppRegistry over Graph, TokenVerifier, DataverseProbe, SiteDirectory) and the webhook
 * server target, with the real SDKs over HTTPS against the sandbox. New keys take 30 s of sandbox time to propagate;
 * the test moves the sandbox clock instead of sleeping.
 */
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureAdapters, type AzureAdapters } from '../../src/adapters/azure/index.js';
import { AdapterError, type CertificateVersion, type KeyRef } from '../../src/adapters/ports.js';
import { createServerTarget } from '../../src/adapters/servers/index.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config, KeyVaultTargetConfig, PowerPagesTargetConfig } from '../../src/config/schema.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';

let sb: Sandbox;
let config: Config;
let contoso: KeyVaultTargetConfig;
let fabrikam: KeyVaultTargetConfig;
let adapters: AzureAdapters;
const logLines: string[] = [];
const secrets: string[] = [];
let oldKey: KeyRef;
let newKey: KeyRef;

function bufferLogger() {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level: 'trace' }, stream);
}

async function rejection(p: Promise<unknown>): Promise<AdapterError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AdapterError);
    return err as AdapterError;
  }
  throw new Error('expected a rejection');
}

const ref = (v: CertificateVersion): KeyRef => ({ secretId: v.secretId, thumbprint: v.thumbprint });
const faults = (rules: unknown[]) =>
  fetch(`${sb.adminUrl}/faults`, {
    method: rules.length ? 'POST' : 'DELETE',
    ...(rules.length ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules }) } : {}),
  });
const scopeOf = (t: KeyVaultTargetConfig) => `${t.verify.dataverseUrl}/.default`;

beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 30, kvCreateDelaySeconds: 1 });
  config = (await loadConfig(sb.configPath)).config;
  const kv = (name: string) => config.targets.find((t): t is KeyVaultTargetConfig => t.name === name)!;
  contoso = kv('contoso-api');
  fabrikam = kv('fabrikam-api');
  adapters = createAzureAdapters(config, {
    logger: bufferLogger(),
    consistency: { consecutive: 2, intervalMs: 20, timeoutMs: 5000 },
  });
  const store = adapters.certificates(contoso);
  const [current] = await store.listVersions(contoso.keyVault.certificate);
  oldKey = ref(current!);
  const op = await store.beginCreate(
    contoso.keyVault.certificate,
    {
      subject: contoso.keyVault.subject,
      validityMonths: 24,
      keyType: 'RSA',
      keySize: 2048,
      contentType: 'application/x-pem-file',
    },
    { 'certrotate-run': 'graph-test' },
  );
  for (;;) {
    const s = await store.pollCreate(op);
    if (s.status === 'completed') {
      newKey = ref(s.version);
      break;
    }
    if (s.status === 'failed') throw new Error(s.error.message);
    sb.clock.advance(1000);
  }
});
afterAll(() => sb?.stop());

describe('AppRegistry over Graph', () => {
  it('reads the app by appId with its certificate credentials and thumbprints', async () => {
    const app = await adapters.apps.getApp(contoso.app.appId);
    expect(app.appId).toBe(contoso.app.appId);
    expect(app.objectId).toBe(sb.directory.appByAppId(contoso.app.appId)!.id);
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([oldKey.thumbprint]);
    expect(app.keyCredentials[0]).toMatchObject({ type: 'AsymmetricX509Cert', usage: 'Verify' });
    expect(app.hasFederatedCredentials).toBe(false);
    const portal = config.targets.find((t): t is PowerPagesTargetConfig => t.name === 'northwind-portal')!;
    expect((await adapters.apps.getApp(portal.app.appId)).hasFederatedCredentials).toBe(true);
  });

  it('addKey attaches the new key with a proof signed by the current key, as the app itself', async () => {
    const added = await adapters.apps.addKey(contoso.app.appId, newKey, oldKey);
    expect(added.thumbprint).toBe(newKey.thumbprint);
    const app = await adapters.apps.getApp(contoso.app.appId);
    expect(app.keyCredentials.map((k) => k.thumbprint).sort()).toEqual([oldKey.thumbprint, newKey.thumbprint].sort());
    expect(app.keyCredentials.find((k) => k.thumbprint === newKey.thumbprint)?.keyId).toBe(added.keyId);
  });

  it('a token with the not-yet-propagated key is keyNotFound (retryable); once propagated it works and WhoAmI answers', async () => {
    const early = await rejection(adapters.tokens.acquireToken(contoso.app.appId, newKey, scopeOf(contoso)));
    expect(early.detail).toMatchObject({ code: 'keyNotFound', retryable: true });
    sb.clock.advance(31_000);
    const token = await adapters.tokens.acquireToken(contoso.app.appId, newKey, scopeOf(contoso));
    secrets.push(token.token);
    expect(Date.parse(token.expiresOn)).toBeGreaterThan(Date.now());
    const who = await adapters.dataverse.whoAmI(contoso.verify.dataverseUrl, token);
    expect(who.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(who.organizationId).toMatch(/^[0-9a-f-]{36}$/);
    const history = (await (await fetch(`${sb.adminUrl}/history`)).json()) as { kind: string; thumbprint?: string }[];
    expect(history.some((e) => e.kind === 'token' && e.thumbprint === newKey.thumbprint)).toBe(true);
  });

  it('WhoAmI with a token Dataverse refuses is forbidden (not retryable)', async () => {
    const bogus = { token: 'not-a-token', expiresOn: new Date().toISOString() };
    const err = await rejection(adapters.dataverse.whoAmI(contoso.verify.dataverseUrl, bogus));
    expect(err.detail).toMatchObject({ code: 'forbidden', status: 401 });
  });

  it('a 429 with Retry-After from Dataverse, the Power Platform API or a Graph fetch read is waited out, then retried', async () => {
    const token = await adapters.tokens.acquireToken(contoso.app.appId, newKey, scopeOf(contoso));
    secrets.push(token.token);
    const portal = config.targets.find((t): t is PowerPagesTargetConfig => t.name === 'contoso-portal')!;
    await faults([
      { service: 'dataverse', path: '/api/data/v9.2/WhoAmI', status: 429, retryAfter: 0.5, count: 1 },
      {
        service: 'powerplatform',
        path: '/powerpages/environments/*/websites/*',
        status: 429,
        retryAfter: 0.5,
        count: 1,
      },
      { service: 'graph', path: '/v1.0/applications/*/owners', status: 429, retryAfter: 0.5, count: 1 },
    ]);
    const start = Date.now();
    const [who, site, access] = await Promise.all([
      adapters.dataverse.whoAmI(contoso.verify.dataverseUrl, token),
      adapters.sites.getSite(portal.environmentId, portal.websiteId),
      adapters.ownership.callerAccess(portal.app.appId),
    ]);
    await faults([]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(500);
    expect(who.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(site.websiteId).toBe(portal.websiteId);
    expect(access.owner).toBe(true);
    const log = (await (await fetch(`${sb.adminUrl}/requests`)).json()) as {
      service: string;
      path: string;
      status: number;
      time: string;
    }[];
    for (const service of ['dataverse', 'powerplatform', 'graph']) {
      const throttled = log.findLast((q) => q.service === service && q.status === 429)!;
      const retry = log.find(
        (q) => q.service === service && q.path === throttled.path && q.status === 200 && q.time > throttled.time,
      );
      expect(retry, service).toBeDefined();
      expect(Date.parse(retry!.time) - Date.parse(throttled.time), service).toBeGreaterThanOrEqual(495);
    }
  });

  it('the webhook target installs the new key, waits for its health to report it, and restores the old one', async () => {
    const server = createServerTarget(contoso, { keyMaterial: adapters.keyMaterial, pollIntervalMs: 100 });
    expect(await server.currentKey()).toEqual({ thumbprint: oldKey.thumbprint });
    await server.install(newKey);
    expect(await server.currentKey()).toEqual({ thumbprint: newKey.thumbprint });
    expect(await server.checkHealth!()).toEqual({ healthy: true });
    // Idempotent: the key in use is not posted again.
    const posts = () =>
      sb.instrumentation.requests().filter((r) => r.service === 'server' && r.method === 'POST').length;
    const before = posts();
    await server.install(newKey);
    expect(posts()).toBe(before);
    await server.restore(oldKey);
    expect(await server.currentKey()).toEqual({ thumbprint: oldKey.thumbprint });
    await server.install(newKey);
    const state = (await (await fetch(`${sb.adminUrl}/state`)).json()) as {
      servers: { name: string; thumbprint: string }[];
    };
    expect(state.servers.find((s) => s.name === 'contoso-api')?.thumbprint).toBe(newKey.thumbprint);
  });

  it('removeKey retires the old key with a proof signed by the new key; removing it again is notFound', async () => {
    const app = await adapters.apps.getApp(contoso.app.appId);
    const oldId = app.keyCredentials.find((k) => k.thumbprint === oldKey.thumbprint)!.keyId;
    await adapters.apps.removeKey(contoso.app.appId, oldId, newKey);
    expect((await adapters.apps.getApp(contoso.app.appId)).keyCredentials.map((k) => k.thumbprint)).toEqual([
      newKey.thumbprint,
    ]);
    const again = await rejection(adapters.apps.removeKey(contoso.app.appId, oldId, newKey));
    expect(again.detail.code).toBe('notFound');
  });

  it('PATCH merges: adds a key, keeps every other credential by keyId, is idempotent, and removes by keyId', async () => {
    const before = await adapters.apps.getApp(contoso.app.appId);
    const added = await adapters.apps.patchKeyCredentials(contoso.app.appId, { add: [oldKey] });
    expect(added.map((k) => k.thumbprint)).toEqual([oldKey.thumbprint]);
    const after = await adapters.apps.getApp(contoso.app.appId);
    for (const k of before.keyCredentials) expect(after.keyCredentials.find((a) => a.keyId === k.keyId)).toEqual(k);
    expect(after.keyCredentials).toHaveLength(before.keyCredentials.length + 1);
    const cert = new X509Certificate((await adapters.keyMaterial.load(oldKey)).certificatePem);
    const patched = after.keyCredentials.find((k) => k.thumbprint === oldKey.thumbprint)!;
    expect(Date.parse(patched.endDateTime)).toBeLessThanOrEqual(Date.parse(cert.validTo));

    const patches = () =>
      sb.instrumentation.requests().filter((r) => r.service === 'graph' && r.method === 'PATCH').length;
    const n = patches();
    const again = await adapters.apps.patchKeyCredentials(contoso.app.appId, { add: [oldKey] });
    expect(again.map((k) => k.keyId)).toEqual([patched.keyId]);
    expect(patches()).toBe(n);

    await adapters.apps.patchKeyCredentials(contoso.app.appId, { removeKeyIds: [patched.keyId] });
    const final = await adapters.apps.getApp(contoso.app.appId);
    expect(final.keyCredentials).toEqual(before.keyCredentials);
  });

  it('a proof key the app does not hold is refused as invalidProof before any write', async () => {
    const [v] = await adapters.certificates(fabrikam).listVersions(fabrikam.keyVault.certificate);
    const posts = () =>
      sb.instrumentation.requests().filter((r) => r.service === 'graph' && r.method === 'POST').length;
    const n = posts();
    const err = await rejection(adapters.apps.addKey(contoso.app.appId, newKey, ref(v!)));
    expect(err.detail).toMatchObject({ code: 'invalidProof', retryable: false });
    expect(posts()).toBe(n);
  });

  it('an expired key: tokens fail with keyExpired, and it cannot sign a proof', async () => {
    const [v] = await adapters.certificates(fabrikam).listVersions(fabrikam.keyVault.certificate);
    const key = ref(v!);
    const app = sb.directory.appByAppId(fabrikam.app.appId)!;
    const current = app.keyCredentials[0]!;
    const expired = sb.directory.keyCredentialFromCertificate(current.key, {
      keyId: current.keyId,
      startMs: current.startMs,
      endMs: sb.clock.now() - 60_000,
      propagated: true,
    });
    sb.directory.setKeyCredentials(app, [expired]);
    const token = await rejection(adapters.tokens.acquireToken(fabrikam.app.appId, key, scopeOf(fabrikam)));
    expect(token.detail).toMatchObject({ code: 'keyExpired', retryable: false });
    const proof = await rejection(adapters.apps.addKey(fabrikam.app.appId, newKey, key));
    expect(proof.detail).toMatchObject({ code: 'keyExpired', retryable: false });
  });

  it('429 with a long Retry-After surfaces as throttled with retryAfterMs; a short one is retried in-process', async () => {
    await faults([{ service: 'graph', method: 'GET', status: 429, retryAfter: 120, count: 1 }]);
    const err = await rejection(adapters.apps.getApp(contoso.app.appId));
    expect(err.detail).toMatchObject({ code: 'throttled', retryable: true, retryAfterMs: 120_000, status: 429 });
    expect(err.detail.requestId).toBeTruthy();
    await faults([{ service: 'graph', method: 'GET', status: 429, retryAfter: 0, count: 1 }]);
    expect((await adapters.apps.getApp(contoso.app.appId)).appId).toBe(contoso.app.appId);
    await faults([]);
  });
});

describe('SiteDirectory over the Power Platform API', () => {
  it('reads a site and its health', async () => {
    const portal = config.targets.find((t): t is PowerPagesTargetConfig => t.name === 'contoso-portal')!;
    const site = await adapters.sites.getSite(portal.environmentId, portal.websiteId);
    expect(site).toMatchObject({ websiteId: portal.websiteId, appId: portal.app.appId, status: 'running' });
    expect(await adapters.sites.siteHealthy(portal.environmentId, portal.websiteId)).toBe(true);
    const missing = await rejection(
      adapters.sites.getSite(portal.environmentId, '00000000-0000-0000-0000-000000000000'),
    );
    expect(missing.detail.code).toBe('notFound');
  });
});

describe('logging', () => {
  it('no key material, token or proof in any log line', async () => {
    const material = await adapters.keyMaterial.load(newKey);
    const all = logLines.join('');
    expect(logLines.length).toBeGreaterThan(3);
    expect(all).toContain(newKey.thumbprint);
    expect(all).not.toMatch(/PRIVATE KEY|eyJ/);
    expect(all).not.toContain(material.privateKeyPem.split('\n')[5]!);
    for (const s of secrets) expect(all).not.toContain(s);
  });
});

/**
 * The Key Vault adapters (CertificateStore, key material loader) with the real SDKs over HTTPS against the sandbox.
 * Nothing intercepts HTTP; the sandbox clock moves instead of the test sleeping.
 */
import { Writable } from 'node:stream';
import { ClientSecretCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzureAdapters, type AzureAdapters } from '../../src/adapters/azure/index.js';
import { vaultNameOf } from '../../src/adapters/azure/certificate-store.js';
import { AdapterError, type CertificatePolicySpec, type CreateOperationState } from '../../src/adapters/ports.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config, KeyVaultTargetConfig } from '../../src/config/schema.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';

let sb: Sandbox;
let config: Config;
let target: KeyVaultTargetConfig;
let adapters: AzureAdapters;
const logLines: string[] = [];

/** A pino logger at trace level writing into `logLines`, so the test can grep everything the adapters logged. */
function bufferLogger() {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level: 'trace' }, stream);
}

const policy = (subject: string): CertificatePolicySpec => ({
  subject,
  validityMonths: 12,
  keyType: 'RSA',
  keySize: 2048,
  contentType: 'application/x-pem-file',
});

async function rejection(p: Promise<unknown>): Promise<AdapterError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AdapterError);
    return err as AdapterError;
  }
  throw new Error('expected a rejection');
}

/** Polls a create until it is no longer in progress, moving the sandbox clock instead of sleeping. */
async function completeCreate(a: AzureAdapters, op: CreateOperationState) {
  for (let i = 0; i < 20; i++) {
    const s = await a.certificates(target).pollCreate(op);
    if (s.status !== 'inProgress') return s;
    sb.clock.advance(1000);
  }
  throw new Error('the create never completed');
}

beforeAll(async () => {
  sb = await startSandbox({ kvCreateDelaySeconds: 2, propagationDelaySeconds: 0 });
  config = (await loadConfig(sb.configPath)).config;
  target = config.targets.find((t): t is KeyVaultTargetConfig => t.name === 'contoso-api')!;
  adapters = createAzureAdapters(config, { logger: bufferLogger() });
});
afterAll(() => sb?.stop());

describe('CertificateStore over Key Vault', () => {
  it('lists the seeded version with its thumbprint, secret id and dates', async () => {
    const versions = await adapters.certificates(target).listVersions(target.keyVault.certificate);
    expect(versions).toHaveLength(1);
    const [v] = versions;
    expect(v!.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(v!.secretId).toBe(`${target.keyVault.url}/secrets/${target.keyVault.certificate}/${v!.version}`);
    expect(v!.enabled).toBe(true);
    expect(Date.parse(v!.expiresOn)).toBeGreaterThan(Date.now());
    const app = (await sb.directory.appByAppId(target.app.appId))!;
    expect(app.keyCredentials.map((k) => k.thumbprint)).toContain(v!.thumbprint);
  });

  it('creates one version per run: begin, poll, resume from the serialised state in a new process, never a second POST', async () => {
    const store = adapters.certificates(target);
    const name = target.keyVault.certificate;
    const before = sb.instrumentation.requests().length;
    const op = await store.beginCreate(name, policy(target.keyVault.subject), { 'certrotate-run': 'run-1' });
    expect(op.certificateName).toBe(name);
    expect(JSON.parse(op.serialized)).toMatchObject({ state: { certificateName: name, isStarted: true } });
    expect(await store.pollCreate(op)).toEqual({ status: 'inProgress' });

    // While it is pending: found as pending, and a second create is refused.
    const pending = await store.getPendingCreate(name);
    expect(pending?.operation.certificateName).toBe(name);
    expect((await rejection(store.beginCreate(name, policy(target.keyVault.subject), {}))).detail.code).toBe(
      'conflict',
    );

    // A "restarted process": fresh adapters, fresh SDK clients, only the serialised state carried over.
    const resumed = createAzureAdapters(config);
    const done = await completeCreate(resumed, JSON.parse(JSON.stringify(op)) as CreateOperationState);
    expect(done.status).toBe('completed');
    if (done.status !== 'completed') return;
    expect(done.version.tags).toEqual({ 'certrotate-run': 'run-1' });
    expect(done.version.thumbprint).toMatch(/^[0-9A-F]{40}$/);

    const creates = sb.instrumentation
      .requests()
      .slice(before)
      .filter((r) => r.method === 'POST' && /\/certificates\/[^/]+\/create$/.test(r.path) && r.status === 202);
    expect(creates).toHaveLength(1);
    expect(await store.getPendingCreate(name)).toBeUndefined();

    const versions = await store.listVersions(name);
    expect(versions).toHaveLength(2);
    expect(versions.at(-1)!.version).toBe(done.version.version);
    expect((await store.findVersionByTag(name, 'certrotate-run', 'run-1'))?.version).toBe(done.version.version);
    expect(await store.findVersionByTag(name, 'certrotate-run', 'run-2')).toBeUndefined();
    expect((await store.getVersion(name, done.version.version))?.secretId).toBe(done.version.secretId);
    expect(await store.getVersion(name, '0123456789abcdef0123456789abcdef')).toBeUndefined();
  });

  it('loads the PEM secret of a version in memory and checks its thumbprint', async () => {
    const [v] = await adapters.certificates(target).listVersions(target.keyVault.certificate);
    const m = await adapters.keyMaterial.load({ secretId: v!.secretId, thumbprint: v!.thumbprint });
    expect(m.thumbprint).toBe(v!.thumbprint);
    expect(m.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    const wrong = await rejection(adapters.keyMaterial.load({ secretId: v!.secretId, thumbprint: 'AB'.repeat(20) }));
    expect(wrong.detail.code).toBe('invalidRequest');
  });

  it('loads a PKCS#12 secret of a certificate someone else created', async () => {
    const credential = new ClientSecretCredential(sb.tenantId, sb.operator.clientId, sb.operator.clientSecret, {
      authorityHost: sb.urls.entra,
      disableInstanceDiscovery: true,
    });
    const client = new CertificateClient(target.keyVault.url, credential, {
      disableChallengeResourceVerification: true,
      serviceVersion: '2025-07-01',
    });
    const poller = await client.beginCreateCertificate('made-elsewhere', {
      issuerName: 'Self',
      subject: 'CN=made-elsewhere',
      contentType: 'application/x-pkcs12',
    });
    sb.clock.advance(5000);
    const cert = await poller.pollUntilDone();
    const m = await adapters.keyMaterial.load({
      secretId: cert.secretId!,
      thumbprint: cert.properties.x509ThumbprintString!,
    });
    expect(m.thumbprint).toBe(cert.properties.x509ThumbprintString!.toUpperCase());
    expect(m.certificatePem).toContain('BEGIN CERTIFICATE');
  });

  it('disables and re-enables a version; a disabled secret cannot be read', async () => {
    const store = adapters.certificates(target);
    const name = target.keyVault.certificate;
    const v = (await store.listVersions(name)).at(-1)!;
    await store.setVersionEnabled(name, v.version, false);
    await store.setVersionEnabled(name, v.version, false);
    expect((await store.getVersion(name, v.version))?.enabled).toBe(false);
    const denied = await rejection(adapters.keyMaterial.load({ secretId: v.secretId, thumbprint: v.thumbprint }));
    expect(denied.detail).toMatchObject({ code: 'forbidden', status: 403 });
    await store.setVersionEnabled(name, v.version, true);
    expect((await store.getVersion(name, v.version))?.enabled).toBe(true);
    const missing = await rejection(store.setVersionEnabled(name, '0123456789abcdef0123456789abcdef', false));
    expect(missing.detail.code).toBe('notFound');
  });

  it('maps 429 with Retry-After to throttled with retryAfterMs and the request id', async () => {
    await fetch(`${sb.adminUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ service: 'keyvault', method: 'GET', status: 429, retryAfter: 90, count: 1 }] }),
    });
    const err = await rejection(adapters.certificates(target).listVersions(target.keyVault.certificate));
    expect(err.detail).toMatchObject({ code: 'throttled', retryable: true, retryAfterMs: 90_000, status: 429 });
    await fetch(`${sb.adminUrl}/faults`, { method: 'DELETE' });
  });

  it('turns a create on a soft-deleted name (409 ObjectIsDeletedButRecoverable) into a message with the recover command', async () => {
    const credential = new ClientSecretCredential(sb.tenantId, sb.operator.clientId, sb.operator.clientSecret, {
      authorityHost: sb.urls.entra,
      disableInstanceDiscovery: true,
    });
    const client = new CertificateClient(target.keyVault.url, credential, {
      disableChallengeResourceVerification: true,
      serviceVersion: '2025-07-01',
    });
    const name = 'deleted-elsewhere';
    const created = await client.beginCreateCertificate(name, { issuerName: 'Self', subject: `CN=${name}` });
    sb.clock.advance(5000);
    await created.pollUntilDone();
    await (await client.beginDeleteCertificate(name, { intervalInMs: 10 })).pollUntilDone();

    const store = adapters.certificates(target);
    // What a run does first on that name: no tagged version, no pending create (the certificate is gone)...
    expect(await store.findVersionByTag(name, 'certrotate-run', 'run-x')).toBeUndefined();
    expect(await store.getPendingCreate(name)).toBeUndefined();
    // ...then the create, which Key Vault refuses while the deleted certificate holds the name.
    const err = await rejection(store.beginCreate(name, policy(`CN=${name}`), { 'certrotate-run': 'run-x' }));
    const vault = new URL(target.keyVault.url).host;
    expect(err.detail).toMatchObject({ code: 'conflict', retryable: false, status: 409 });
    expect(err.detail.message).toContain(`Key Vault ${vault} (${target.keyVault.url})`);
    expect(err.detail.message).toContain(`certificate ${name} is deleted but recoverable`);
    expect(err.detail.message).toContain(`az keyvault certificate recover --vault-name ${vault} --name ${name}`);
    expect(err.detail.message).not.toMatch(/RestError|ObjectIsDeletedButRecoverable|innererror/i);

    // Following the advice works: once recovered, the create goes through.
    await (await client.beginRecoverDeletedCertificate(name, { intervalInMs: 10 })).pollUntilDone();
    const op = await store.beginCreate(name, policy(`CN=${name}`), { 'certrotate-run': 'run-x' });
    expect((await completeCreate(adapters, op)).status).toBe('completed');
  });

  it('names an Azure vault by its first DNS label, any other host by host and port', () => {
    expect(vaultNameOf('https://kv-contoso.vault.azure.net')).toBe('kv-contoso');
    expect(vaultNameOf('https://kv-gov.vault.usgovcloudapi.net/')).toBe('kv-gov');
    expect(vaultNameOf('https://127.0.0.1:8443')).toBe('127.0.0.1:8443');
  });

  it('reports a certificate that does not exist as notFound', async () => {
    const err = await rejection(adapters.certificates(target).listVersions('no-such-certificate'));
    expect(err.detail.code).toBe('notFound');
    expect(await adapters.certificates(target).findVersionByTag('no-such-certificate', 'a', 'b')).toBeUndefined();
  });

  it('logged no key material', async () => {
    const [v] = await adapters.certificates(target).listVersions(target.keyVault.certificate);
    const m = await adapters.keyMaterial.load({ secretId: v!.secretId, thumbprint: v!.thumbprint });
    const keyBody = m.privateKeyPem.split('\n')[5]!;
    const all = logLines.join('');
    expect(logLines.length).toBeGreaterThan(0);
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain(keyBody);
  });
});

/**
 * App servers (webhook install from Key Vault with the real SecretClient, health through a real
 * ClientCertificateCredential + WhoAmI) and Power Pages sites (Update key, restart, old key kept or removed).
 */
import { CertificateClient } from '@azure/keyvault-certificates';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterError, type KeyRef } from '../../src/adapters/ports.js';
import { createWebhookTarget } from '../../src/adapters/servers/webhook.js';
import { systemClock } from '../../src/runs/system-clock.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { secretCredential, trustSandboxCa } from './sandbox-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ propagationDelaySeconds: 0, kvCreateDelaySeconds: 0, siteRestartSeconds: 0.3 });
  trustSandboxCa(sb.caPem);
});
afterAll(() => sb?.stop());

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });
const post = (url: string, body?: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('app server of a keyvault target', () => {
  it('reports healthy with the seeded key it uses (token + WhoAmI)', async () => {
    const target = sb.targets.find((t) => t.name === 'contoso-api')!;
    const health = await json(await fetch(`${target.serverUrl}/health`));
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'healthy',
      server: 'contoso-api',
      thumbprint: sb.servers[0]!.current().thumbprint,
    });
  });

  it("seeds the target's vault with the certificate its server uses (real CertificateClient)", async () => {
    const target = sb.targets.find((t) => t.name === 'contoso-api')!;
    const certificates = new CertificateClient(
      target.vaultUrl!,
      secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret),
      {
        disableChallengeResourceVerification: true,
      },
    );
    const current = await certificates.getCertificate(target.certificate!);
    expect(Buffer.from(current.properties.x509Thumbprint!).toString('hex').toUpperCase()).toBe(
      sb.servers[0]!.current().thumbprint,
    );
    const days = (current.properties.expiresOn!.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(30);
  });

  it('installs a new Key Vault version by secret id, keeps the previous for rollback, and records serverKey', async () => {
    const target = sb.targets.find((t) => t.name === 'fabrikam-api')!;
    const server = sb.servers.find((s) => s.name === 'fabrikam-api')!;
    const oldThumbprint = server.current().thumbprint;
    const certificates = new CertificateClient(
      target.vaultUrl!,
      secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret),
      {
        disableChallengeResourceVerification: true,
      },
    );
    const poller = await certificates.beginCreateCertificate(
      target.certificate!,
      {
        issuerName: 'Self',
        subject: 'CN=fabrikam-s2s',
        contentType: 'application/x-pem-file',
        keySize: 2048,
        validityInMonths: 24,
      },
      { intervalInMs: 50 },
    );
    const created = await poller.pollUntilDone();
    const thumbprint = Buffer.from(created.properties.x509Thumbprint!).toString('hex').toUpperCase();

    // Before the new key is on the app, the server can install it but not get a token with it.
    const installed = await json(
      await post(target.serverUrl + '/admin/s2s-key', { secretId: created.secretId, thumbprint }),
    );
    expect(installed).toEqual({
      status: 200,
      body: { status: 'installed', thumbprint, previousThumbprint: oldThumbprint },
    });
    const unhealthy = await json(await fetch(`${target.serverUrl}/health`));
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.body.error).toMatch(/AADSTS700027/);

    const app = sb.directory.appByAppId(target.appId)!;
    sb.directory.setKeyCredentials(app, [
      ...app.keyCredentials,
      sb.directory.keyCredentialFromCertificate(created.cer!),
    ]);
    const healthy = await json(await fetch(`${target.serverUrl}/health`));
    expect(healthy.body).toMatchObject({ status: 'healthy', thumbprint, previousThumbprint: oldThumbprint });

    // Re-sending the same install is a no-op; a thumbprint that does not match the secret is refused.
    expect(
      (await json(await post(target.serverUrl + '/admin/s2s-key', { secretId: created.secretId, thumbprint }))).body
        .status,
    ).toBe('unchanged');
    expect(
      (await post(target.serverUrl + '/admin/s2s-key', { secretId: created.secretId, thumbprint: '00' })).status,
    ).toBe(409);

    const rolledBack = await json(await post(target.serverUrl + '/admin/s2s-key/rollback'));
    expect(rolledBack.body).toMatchObject({
      status: 'rolledBack',
      thumbprint: oldThumbprint,
      previousThumbprint: thumbprint,
    });
    const serverEvents = sb.history.events().filter((e) => e.kind === 'serverKey' && e.server === 'fabrikam-api');
    expect(serverEvents.map((e) => (e as { thumbprint: string }).thumbprint)).toEqual([
      oldThumbprint,
      thumbprint,
      oldThumbprint,
    ]);
  });

  it('refuses a webhook call without a secret id, and reports Key Vault errors as 502', async () => {
    const target = sb.targets.find((t) => t.name === 'contoso-api')!;
    expect((await post(target.serverUrl + '/admin/s2s-key', {})).status).toBe(400);
    // The secret of the version in use, without a thumbprint to compare: nothing changes, nothing is recorded.
    const events = sb.history.events().length;
    const same = await json(
      await post(target.serverUrl + '/admin/s2s-key', { secretId: `${target.vaultUrl}/secrets/${target.certificate}` }),
    );
    expect(same.body).toMatchObject({ status: 'unchanged', thumbprint: sb.servers[0]!.current().thumbprint });
    expect(sb.history.events()).toHaveLength(events);
    const missing = await post(target.serverUrl + '/admin/s2s-key', {
      secretId: `${target.vaultUrl}/secrets/no-such-secret/0123`,
    });
    expect(missing.status).toBe(502);
  });
});

describe('Power Pages site', () => {
  it('answers 200, restarts on Update key (503), then serves on the new platform key; the old key stays on the app', async () => {
    const portal = sb.targets.find((t) => t.name === 'contoso-portal')!;
    const app = sb.directory.appByAppId(portal.appId)!;
    const oldKey = app.keyCredentials[0]!;
    expect((await fetch(portal.siteUrl!)).status).toBe(200);
    const res = await json(await post(`${sb.adminUrl}/sites/${portal.websiteId}/update-key`));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('restarting');
    expect((await fetch(portal.siteUrl!)).status).toBe(503);
    expect((await post(`${sb.adminUrl}/sites/${portal.websiteId}/update-key`)).status).toBe(409);
    await waitFor(async () => (await fetch(portal.siteUrl!)).status === 200);
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([oldKey.thumbprint, res.body.thumbprint]);
    expect(
      sb.history
        .events()
        .filter((e) => e.kind === 'siteKey')
        .at(-1),
    ).toMatchObject({ websiteId: portal.websiteId, thumbprint: res.body.thumbprint });
    // Removing the key the site uses takes it down: what retiring the wrong key would do.
    sb.directory.setKeyCredentials(
      app,
      app.keyCredentials.filter((k) => k.thumbprint !== res.body.thumbprint),
    );
    expect((await fetch(portal.siteUrl!)).status).toBe(503);
  });

  it('has nothing to update on a federated site', async () => {
    const northwind = sb.targets.find((t) => t.name === 'northwind-portal')!;
    expect((await fetch(northwind.siteUrl!)).status).toBe(200);
    expect((await post(`${sb.adminUrl}/sites/${northwind.websiteId}/update-key`)).status).toBe(409);
  });

  it('with --pp-removes-old-key, the platform drops the old key when the restart completes', async () => {
    const other = await startSandbox({ propagationDelaySeconds: 0, siteRestartSeconds: 0.2, ppRemovesOldKey: true });
    try {
      trustSandboxCa(other.caPem);
      const portal = other.targets.find((t) => t.name === 'contoso-portal')!;
      const app = other.directory.appByAppId(portal.appId)!;
      const res = await json(await post(`${other.adminUrl}/sites/${portal.websiteId}/update-key`));
      expect(app.keyCredentials).toHaveLength(2);
      await waitFor(async () => (await fetch(portal.siteUrl!)).status === 200);
      expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([res.body.thumbprint]);
    } finally {
      await other.stop();
    }
  });
});

describe('app server: never backwards (the webhook contract)', () => {
  it('refuses a key older than the one it holds with 409 naming it, and the webhook adapter reports serverHasNewerKey', async () => {
    const target = sb.targets.find((t) => t.name === 'contoso-api')!;
    const server = sb.servers.find((s) => s.name === 'contoso-api')!;
    const certificates = new CertificateClient(
      target.vaultUrl!,
      secretCredential(sb, sb.operator.clientId, sb.operator.clientSecret),
      { disableChallengeResourceVerification: true },
    );
    const create = async (): Promise<KeyRef> => {
      const poller = await certificates.beginCreateCertificate(
        target.certificate!,
        { issuerName: 'Self', subject: 'CN=contoso-s2s', contentType: 'application/x-pem-file', keySize: 2048 },
        { intervalInMs: 50 },
      );
      const created = await poller.pollUntilDone();
      return {
        thumbprint: Buffer.from(created.properties.x509Thumbprint!).toString('hex').toUpperCase(),
        secretId: created.secretId!,
        notBefore: created.properties.notBefore!.toISOString(),
      };
    };
    // Two generations an hour apart: a late install of the first must not undo the second.
    const older = await create();
    sb.clock.advance(3_600_000);
    const newer = await create();
    expect(Date.parse(newer.notBefore!)).toBeGreaterThan(Date.parse(older.notBefore!));

    const webhook = createWebhookTarget(
      'contoso-api',
      { kind: 'webhook', url: `${target.serverUrl}/admin/s2s-key`, timeout: 10_000 },
      { clock: systemClock, pollIntervalMs: 50 },
    );
    await webhook.install(newer, { runId: 'run-newer' });
    expect(server.current().thumbprint).toBe(newer.thumbprint);
    const keyEvents = () => sb.history.events().filter((e) => e.kind === 'serverKey' && e.server === 'contoso-api');
    const eventsBefore = keyEvents().length;

    let refused: unknown;
    try {
      await webhook.install(older, { runId: 'run-older' });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(AdapterError);
    expect((refused as AdapterError).detail).toMatchObject({
      code: 'serverHasNewerKey',
      retryable: false,
      status: 409,
    });
    expect((refused as AdapterError).message).toContain(newer.thumbprint);
    expect(server.current().thumbprint).toBe(newer.thumbprint);

    // Without the token, the server still reads the certificate and refuses; the body names the key in use.
    const raw = await json(await post(`${target.serverUrl}/admin/s2s-key`, { secretId: older.secretId }));
    expect(raw).toEqual({
      status: 409,
      body: {
        error: expect.stringContaining(newer.thumbprint) as unknown,
        code: 'serverHasNewerKey',
        inUse: { thumbprint: newer.thumbprint, notBefore: newer.notBefore },
      },
    });
    // The same key again is idempotent.
    const again = await json(await post(`${target.serverUrl}/admin/s2s-key`, { ...newer, runId: 'run-newer' }));
    expect(again).toMatchObject({ status: 200, body: { status: 'unchanged', thumbprint: newer.thumbprint } });
    expect(keyEvents()).toHaveLength(eventsBefore);

    // A rollback may go back, in place of the key it replaces; a stale one (the key it names is gone) may not.
    const stale = await post(`${target.serverUrl}/admin/s2s-key`, {
      secretId: older.secretId,
      thumbprint: older.thumbprint,
      action: 'restore',
      replaces: 'F'.repeat(40),
    });
    expect(stale.status).toBe(409);
    await webhook.restore(older);
    expect(server.current().thumbprint).toBe(older.thumbprint);
    expect(
      keyEvents()
        .map((e) => (e as { thumbprint: string }).thumbprint)
        .slice(eventsBefore),
    ).toEqual([older.thumbprint]);
  });
});

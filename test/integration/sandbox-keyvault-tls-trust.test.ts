/**
 * Whether Node 24's `tls.setDefaultCACertificates` makes an in-process client trust the sandbox CA at run time
 * (what the CLI would do for `cloud.caFile`): global fetch, node:https, the Key Vault SDK without `tlsOptions`, and
 * MSAL (through @azure/identity). Its own file, because it changes the process-wide default CA list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import tls from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import { StaticCredential, TENANT_ID, startKeyVaultHarness, type KeyVaultHarness } from './helpers/keyvault-harness.js';

function httpsStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

function causeCode(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string } };
  return err.cause?.code ?? err.code;
}

describe('run-time trust of the sandbox CA with tls.setDefaultCACertificates (Node 24)', () => {
  let h: KeyVaultHarness;
  let defaults: string[];
  beforeAll(async () => {
    h = await startKeyVaultHarness();
    defaults = tls.getCACertificates('default');
  });
  afterAll(async () => {
    tls.setDefaultCACertificates(defaults);
    await h.close();
  });

  it('fails TLS verification before the CA is added', async () => {
    const url = `${h.url}/certificates?api-version=2025-07-01`;
    await expect(fetch(url)).rejects.toSatisfy((e) => /CERT|SIGNATURE|ISSUER/.test(causeCode(e) ?? ''));
    await expect(httpsStatus(url)).rejects.toSatisfy((e) => /CERT|SIGNATURE|ISSUER/.test(causeCode(e) ?? ''));
    // MSAL's discovery request never completes a handshake, so nothing reaches the vault.
    const credential = new ClientSecretCredential(TENANT_ID, 'client', 'secret', {
      authorityHost: h.url,
      disableInstanceDiscovery: true,
    });
    await expect(credential.getToken('https://vault.azure.net/.default')).rejects.toThrow();
    expect(h.requests).toEqual([]);
  });

  it('trusts the CA for fetch, node:https, the Key Vault SDK and MSAL once added to the defaults', async () => {
    tls.setDefaultCACertificates([...defaults, h.caPem]);
    const url = `${h.url}/certificates?api-version=2025-07-01`;
    expect((await fetch(url)).status).toBe(401);
    expect(await httpsStatus(url)).toBe(401);

    const client = new CertificateClient(h.url, new StaticCredential(), {
      disableChallengeResourceVerification: true,
      serviceVersion: '2025-07-01',
    });
    const names: string[] = [];
    for await (const p of client.listPropertiesOfCertificates()) names.push(p.name!);
    expect(names).toEqual([]);

    // MSAL reaches the (non-Entra) host over TLS: its discovery request shows up here, so the handshake succeeded;
    // the sign-in then fails on the content, not on the certificate.
    const before = h.requests.length;
    const credential = new ClientSecretCredential(TENANT_ID, 'client', 'secret', {
      authorityHost: h.url,
      disableInstanceDiscovery: true,
    });
    const error = await credential.getToken('https://vault.azure.net/.default').catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toMatch(/self[- ]signed|unable to verify|UNABLE_TO_VERIFY/i);
    const msalRequests = h.requests.slice(before);
    expect(msalRequests.some((r) => r.url.includes(TENANT_ID))).toBe(true);
  });
});

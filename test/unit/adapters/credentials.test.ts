import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { createOperatorCredential, identityOptions } from '../../../src/adapters/azure/credentials.js';
import { splitPemCertificates, trustExtraCa } from '../../../src/adapters/azure/trust.js';
import { AdapterError } from '../../../src/adapters/ports.js';
import type { Config } from '../../../src/config/schema.js';
import { makeCertificate } from './support.js';

const cloud = (authorityHost: string): Config['cloud'] => ({
  authorityHost,
  graphUrl: 'https://graph.microsoft.com',
  powerPlatformUrl: 'https://api.powerplatform.com',
});
const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const clientId = '11111111-2222-3333-4444-555555555555';

describe('identityOptions', () => {
  it('keeps instance discovery for Microsoft authorities and disables it for any other (the sandbox)', () => {
    expect(identityOptions(cloud('https://login.microsoftonline.com'))).toEqual({
      authorityHost: 'https://login.microsoftonline.com',
      disableInstanceDiscovery: false,
    });
    expect(identityOptions(cloud('https://127.0.0.1:8443/'), 'PEM')).toEqual({
      authorityHost: 'https://127.0.0.1:8443',
      disableInstanceDiscovery: true,
      tlsOptions: { ca: 'PEM' },
    });
  });
});

describe('createOperatorCredential', () => {
  const base = { tenantId, cloud: cloud('https://login.microsoftonline.com') };

  it('builds the credential auth.kind names', () => {
    expect(createOperatorCredential({ ...base, auth: { kind: 'default' } })).toBeInstanceOf(DefaultAzureCredential);
    expect(createOperatorCredential({ ...base, auth: { kind: 'managed-identity', clientId } })).toBeInstanceOf(
      ManagedIdentityCredential,
    );
    expect(
      createOperatorCredential({ ...base, auth: { kind: 'client-secret', clientId, clientSecret: 's3cret' } }),
    ).toBeInstanceOf(ClientSecretCredential);
  });

  it('reads the client secret from the environment variable clientSecretEnv names, and refuses an unset one', () => {
    const auth = { kind: 'client-secret' as const, clientId, clientSecretEnv: 'CR_TEST_SECRET' };
    expect(createOperatorCredential({ ...base, auth }, { env: { CR_TEST_SECRET: 'x' } })).toBeInstanceOf(
      ClientSecretCredential,
    );
    let thrown: unknown;
    try {
      createOperatorCredential({ ...base, auth }, { env: {} });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AdapterError);
    expect((thrown as AdapterError).detail).toMatchObject({ code: 'invalidRequest', retryable: false });
    expect((thrown as AdapterError).message).toContain('CR_TEST_SECRET');
  });
});

describe('trustExtraCa', () => {
  it('adds the CA to the default store once, however often it is called', async () => {
    const ca = await makeCertificate('CN=unit test CA');
    const norm = (p: string) => p.replace(/\s/g, '');
    const trusted = () => tls.getCACertificates('default').filter((c) => norm(c) === norm(ca.certPem)).length;
    expect(trusted()).toBe(0);
    expect(trustExtraCa(ca.certPem)).toBe(true);
    expect(trusted()).toBe(1);
    // Node de-duplicates the store when it is set, so compare with the size after the first call.
    const size = tls.getCACertificates('default').length;
    expect(trustExtraCa(ca.certPem)).toBe(true);
    expect(trusted()).toBe(1);
    expect(tls.getCACertificates('default').length).toBe(size);
  });

  it('splits a PEM bundle into its certificates', async () => {
    const [a, b] = await Promise.all([makeCertificate('CN=a'), makeCertificate('CN=b')]);
    expect(splitPemCertificates(a.certPem + b.certPem)).toHaveLength(2);
    expect(splitPemCertificates(await readFile(new URL(import.meta.url), 'utf8'))).toHaveLength(0);
  });
});

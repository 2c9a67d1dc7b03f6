import { describe, expect, it } from 'vitest';
import { discoverTenant } from '../../../src/fleet/discovery.js';
import { app, cert, DAY, fakeTenant, NOW, secret } from './fakes.js';

const opts = { now: NOW, rotateBeforeMs: 60 * DAY, vaults: [] as string[] };

describe('discoverTenant', () => {
  it('reads apps, service principals, sites and every given vault, and classifies', async () => {
    const a = app('api', { keyCredentials: [cert('F00D', 90)] });
    const tenant = fakeTenant({
      apps: [a],
      vaults: {
        'https://kv1': [{ vaultUrl: 'https://kv1', certificate: 'c', version: 'v', thumbprint: 'F00D' }],
        'https://kv2': [],
      },
    });
    const report = await discoverTenant(tenant, { ...opts, vaults: ['https://kv1', 'https://kv2'] });
    expect(report.formatVersion).toBe(1);
    expect(report.apps.map((x) => x.kind)).toEqual(['keyVault']);
    expect(tenant.reads.sort()).toEqual([
      'applications',
      'servicePrincipals',
      'sites:*',
      'vault:https://kv1',
      'vault:https://kv2',
    ]);
    expect(report.notes).toEqual([]);
  });

  it('says once that client secrets are not rotated, with how many are due', async () => {
    const report = await discoverTenant(
      fakeTenant({ apps: [app('a', { passwordCredentials: [secret(10), secret(500)] })] }),
      opts,
    );
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toMatch(/^2 client secret\(s\), 1 due or expired: certrotate rotates certificates/);
    expect(report.notes[0]).toMatch(/from a secret to a certificate credential/);
  });

  it('with an environment: only its sites and its application users; notes what could not be read', async () => {
    const a = app('Portals - x', { keyCredentials: [cert('AA', 100)] });
    const tenant = fakeTenant({
      apps: [a],
      sites: [{ websiteId: 'w', name: 'x', environmentId: 'env1', appId: a.appId }],
      users: { value: new Map(), note: 'Dataverse application users not listed: 404' },
    });
    const report = await discoverTenant(tenant, { ...opts, environment: 'env1' });
    expect(tenant.reads).toContain('sites:env1');
    expect(tenant.reads).toContain('users:env1');
    expect(report.apps[0]?.kind).toBe('powerPages');
    // Users that could not be listed are not reported as "none".
    expect(report.apps[0]?.applicationUser).toBeUndefined();
    expect(report.notes).toEqual(['Dataverse application users not listed: 404']);
  });

  it("with an environment: looks up the apps' application users by their app ids and reports them", async () => {
    const a = app('api', { keyCredentials: [cert('AA', 100)] });
    const b = app('worker', { passwordCredentials: [secret(100)] });
    const tenant = fakeTenant({
      apps: [a, b],
      users: {
        value: new Map([
          [
            a.appId.toLowerCase(),
            { systemUserId: 'u1', name: 'api user', disabled: true, businessUnitId: 'b1', businessUnitName: 'Ops' },
          ],
        ]),
      },
    });
    const report = await discoverTenant(tenant, { ...opts, environment: 'env1' });
    expect(tenant.userLookups).toEqual([[a.appId, b.appId]]);
    const byName = new Map(report.apps.map((x) => [x.displayName, x]));
    expect(byName.get('api')?.applicationUser).toBe('u1');
    expect(byName.get('api')?.applicationUserDetail).toEqual({ name: 'api user', disabled: true, businessUnit: 'Ops' });
    expect(byName.get('worker')?.applicationUser).toBeNull();
  });

  it('a refused systemusers is one note; the rest of discover is still reported', async () => {
    const a = app('api', { keyCredentials: [cert('AA', 100)] });
    const denied =
      "could not read systemusers: grant prvReadSystemUser (Read on systemuser) to certrotate's application user";
    const tenant = fakeTenant({ apps: [a], users: { value: new Map(), note: denied } });
    const report = await discoverTenant(tenant, { ...opts, environment: 'env1' });
    expect(report.apps.map((x) => x.displayName)).toEqual(['api']);
    expect(report.apps[0]?.applicationUser).toBeUndefined();
    expect(report.notes).toEqual([denied]);
  });

  it('fails when a given vault cannot be read (a wrong vault must not turn apps into unmanaged silently)', async () => {
    await expect(discoverTenant(fakeTenant({ apps: [] }), { ...opts, vaults: ['https://nope'] })).rejects.toThrow(
      'no vault https://nope',
    );
  });
});

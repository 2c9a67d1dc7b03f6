import { describe, expect, it } from 'vitest';
import { classifyApps, countApps, credentialStatus } from '../../../src/fleet/classify.js';
import { app, cert, DAY, NOW, secret } from './fakes.js';

const base = { now: NOW, rotateBeforeMs: 30 * DAY, servicePrincipals: [], sites: [], vaultVersions: [] };

describe('credentialStatus', () => {
  it('is expired at or past the end, due within rotateBefore, ok beyond', () => {
    expect(credentialStatus(new Date(NOW).toISOString(), NOW, 30 * DAY)).toEqual({ daysLeft: 0, status: 'expired' });
    expect(credentialStatus(new Date(NOW + 30 * DAY).toISOString(), NOW, 30 * DAY)).toEqual({
      daysLeft: 30,
      status: 'due',
    });
    expect(credentialStatus(new Date(NOW + 31 * DAY).toISOString(), NOW, 30 * DAY).status).toBe('ok');
    expect(credentialStatus(new Date(NOW - 1.5 * DAY).toISOString(), NOW, 30 * DAY).daysLeft).toBe(-2);
  });
});

describe('classifyApps', () => {
  it('classifies by site, then vault thumbprint, then federated credentials, else unmanaged', () => {
    const site = app('Portals - shop', { keyCredentials: [cert('AA11', 100)] });
    const vaulted = app('api', { keyCredentials: [cert('bb22', 100), cert('CC33', 5)] });
    const federated = app('deploy', {
      federatedIdentityCredentials: [
        { name: 'gh', issuer: 'https://token.actions.githubusercontent.com', subject: 's' },
      ],
    });
    const plain = app('legacy', { passwordCredentials: [secret(-1)] });
    const none = app('empty');
    const apps = classifyApps([plain, federated, vaulted, site, none], {
      ...base,
      sites: [{ websiteId: 'w1', name: 'shop', environmentId: 'e1', appId: site.appId.toUpperCase() }],
      vaultVersions: [{ vaultUrl: 'https://kv', certificate: 'api-s2s', version: 'v1', thumbprint: 'BB22' }],
    });
    expect(apps.map((a) => [a.displayName, a.kind, a.status])).toEqual([
      ['Portals - shop', 'powerPages', 'ok'],
      ['api', 'keyVault', 'due'],
      ['deploy', 'federated', 'ok'],
      ['legacy', 'unmanaged', 'expired'],
    ]);
    expect(apps[0]?.site).toEqual({ websiteId: 'w1', name: 'shop', environmentId: 'e1' });
    expect(apps[1]?.credentials.map((c) => c.vault?.certificate ?? null)).toEqual(['api-s2s', null]);
    expect(apps[1]?.credentials[0]?.thumbprint).toBe('BB22');
  });

  it("adds each service principal's own credentials once, marked as such", () => {
    const a = app('saml', { keyCredentials: [cert('DD44', 200)] });
    const sp = {
      id: 'sp1',
      appId: a.appId,
      displayName: 'saml',
      keyCredentials: [cert('EE55', 10)],
      passwordCredentials: [secret(400)],
    };
    const [out] = classifyApps([a], { ...base, servicePrincipals: [sp] });
    expect(out?.credentials.map((c) => `${c.on}:${c.kind}:${c.status}`)).toEqual([
      'application:certificate:ok',
      'servicePrincipal:certificate:due',
      'servicePrincipal:secret:ok',
    ]);
  });

  it('records the Dataverse application user, null when the app has none', () => {
    const a = app('a', { keyCredentials: [cert('AB', 100)] });
    const b = app('b', { keyCredentials: [cert('CD', 100)] });
    const out = classifyApps([a, b], { ...base, applicationUsers: new Map([[a.appId, 'user-1']]) });
    expect(out.map((x) => x.applicationUser)).toEqual(['user-1', null]);
  });

  it("records the application user's name, disabled flag and business unit (its name, else its id)", () => {
    const a = app('a', { keyCredentials: [cert('AB', 100)] });
    const b = app('b', { keyCredentials: [cert('CD', 100)] });
    const user = (id: string, businessUnitName: string | null) => ({
      systemUserId: id,
      name: `# ${id}`,
      disabled: id === 'u2',
      businessUnitId: 'bu-id',
      businessUnitName,
    });
    const out = classifyApps([a, b], {
      ...base,
      applicationUsers: new Map([
        [a.appId, user('u1', 'Contoso')],
        [b.appId, user('u2', null)],
      ]),
    });
    expect(out.map((x) => [x.applicationUser, x.applicationUserDetail])).toEqual([
      ['u1', { name: '# u1', disabled: false, businessUnit: 'Contoso' }],
      ['u2', { name: '# u2', disabled: true, businessUnit: 'bu-id' }],
    ]);
  });

  it('counts apps by kind and credentials by kind and status', () => {
    const apps = classifyApps(
      [
        app('a', { keyCredentials: [cert('A1', -1)], passwordCredentials: [secret(3), secret(300)] }),
        app('b', { keyCredentials: [cert('B1', 10)] }),
      ],
      base,
    );
    expect(countApps(apps)).toEqual({
      apps: 2,
      byKind: { powerPages: 0, keyVault: 0, federated: 0, unmanaged: 2 },
      certificates: 2,
      secrets: 2,
      due: 2,
      expired: 1,
      secretsDueOrExpired: 1,
    });
  });
});

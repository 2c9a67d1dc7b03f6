import { describe, expect, it } from 'vitest';
import { discoveryCsv, discoveryNoticeRows, discoveryTable, vaultUrls } from '../../../src/commands/discover.js';
import { classifyApps, countApps } from '../../../src/fleet/classify.js';
import type { DiscoveryReport } from '../../../src/fleet/discovery.js';
import { app, cert, DAY, NOW, secret } from '../fleet/fakes.js';

function report(): DiscoveryReport {
  const apps = classifyApps(
    [
      app('api, "prod"', { keyCredentials: [cert('AB12', 10)], passwordCredentials: [secret(100)], owners: ['ops'] }),
      app('deploy', { federatedIdentityCredentials: [{ name: 'gh', issuer: 'https://i', subject: 's' }] }),
    ],
    { now: NOW, rotateBeforeMs: 30 * DAY, servicePrincipals: [], sites: [], vaultVersions: [] },
  );
  return { formatVersion: 1, apps, counts: countApps(apps), notes: ['a note'] };
}

describe('discover output', () => {
  it('writes one CSV line per credential, quoting as RFC 4180 does, and one for a federated-only app', () => {
    const lines = discoveryCsv(report()).trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^federated,deploy,[^,]+,federated,application,,,,,ok,,,$/);
    expect(lines[2]).toMatch(/^unmanaged,"api, ""prod""",[^,]+,certificate,application,[^,]+,AB12,[^,]+,10,due,ops,,$/);
    expect(lines[3]).toMatch(/,secret,application,[^,]+,,[^,]+,100,ok,ops,,$/);
  });

  it('prints a section per kind, the counts and the notes', () => {
    const text = discoveryTable(report());
    expect(text.indexOf('federated (1)')).toBeLessThan(text.indexOf('unmanaged (1)'));
    expect(text).toContain(
      '2 app(s): 0 powerPages, 0 keyVault, 1 federated, 1 unmanaged; 1 certificate(s), 1 secret(s); 1 due, 0 expired',
    );
    expect(text).toContain('note: a note');
  });

  it('refuses a --vault that is not an https URL, naming it', () => {
    expect(() => vaultUrls(['kv-contoso'])).toThrow(
      'option --vault: got "kv-contoso"; expected an https URL of a Key Vault',
    );
    expect(() => vaultUrls(['http://kv'])).toThrow('expected an https URL');
    expect(vaultUrls(['https://kv.vault.azure.net/'])).toEqual(['https://kv.vault.azure.net']);
  });
});

describe('discover --notify rows', () => {
  it('one row per certificate of an app not configured, named apart when an app has several; no secrets', async () => {
    const { scanNotices } = await import('../../../src/notify/scan-notices.js');
    const apps = classifyApps(
      [
        app('legacy', { keyCredentials: [cert('AB12CD34EF', 10), cert('9988776655', 200)] }),
        app('single', { keyCredentials: [cert('1234ABCD', -2)], passwordCredentials: [secret(5)] }),
        app('configured', { keyCredentials: [cert('FFEE0011', 3)] }),
      ],
      { now: NOW, rotateBeforeMs: 30 * DAY, servicePrincipals: [], sites: [], vaultVersions: [] },
    );
    const doc: DiscoveryReport = { formatVersion: 1, apps, counts: countApps(apps), notes: [] };
    const configuredId = apps.find((a) => a.displayName === 'configured')!.appId;
    const rows = discoveryNoticeRows(doc, [configuredId.toUpperCase()]);
    expect(rows.map((r) => [r.name, r.thumbprint, r.daysLeft])).toEqual([
      ['legacy (AB12CD34)', 'AB12CD34EF', 10],
      ['legacy (99887766)', '9988776655', 200],
      ['single', '1234ABCD', -2],
    ]);
    // The notices `scan --notify` would send for them, naming `certrotate init` (they are not targets yet).
    const notices = scanNotices(rows, [], { now: NOW, parkedAfterMs: DAY, next: () => 'certrotate init' });
    expect(notices.map((n) => [n.notification.event, n.notification.target, n.notification.next])).toEqual([
      ['expiring', 'legacy (AB12CD34)', 'certrotate init'],
      ['expired', 'single', 'certrotate init'],
    ]);
  });
});

describe('discover output with application users (--environment)', () => {
  function withUsers(): DiscoveryReport {
    const a = app('api', { keyCredentials: [cert('AB12', 10)] });
    const b = app('batch', { keyCredentials: [cert('CD34', 100)] });
    const apps = classifyApps([a, b], {
      now: NOW,
      rotateBeforeMs: 30 * DAY,
      servicePrincipals: [],
      sites: [],
      vaultVersions: [],
      applicationUsers: new Map([
        [
          a.appId.toLowerCase(),
          { systemUserId: 'u1', name: 'api app', disabled: true, businessUnitId: 'b1', businessUnitName: 'Ops' },
        ],
      ]),
    });
    return { formatVersion: 1, apps, counts: countApps(apps), notes: [] };
  }

  it('adds the user, its disabled flag and business unit to the CSV', () => {
    const lines = discoveryCsv(withUsers()).trim().split('\n');
    expect(lines[0]).toBe(
      'kind,app,appId,credential,on,keyId,thumbprint,expiresOn,daysLeft,status,owners,vault,site,applicationUser,userDisabled,businessUnit',
    );
    expect(lines[1]).toMatch(/^unmanaged,api,.*,api app,true,Ops$/);
    expect(lines[2]).toMatch(/^unmanaged,batch,.*,,,$/);
  });

  it('adds an APP USER column to the table: name, disabled, business unit; none when it has none', () => {
    const text = discoveryTable(withUsers());
    expect(text).toContain('APP USER');
    expect(text).toContain('api app (disabled) [Ops]');
    expect(text).toMatch(/batch .* none/);
  });

  it('leaves the columns out when the users were not read', () => {
    expect(discoveryCsv(report()).split('\n')[0]).not.toContain('applicationUser');
    expect(discoveryTable(report())).not.toContain('APP USER');
  });
});

/**
 * Unit tests of the sandbox Key Vault's store, throttle and policy defaults, on a simulated clock (no sleeps).
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { VaultStore, thumbprintOf, type CertificateVersionRecord } from '../../../../src/sandbox/keyvault/store.js';
import { WriteBudget } from '../../../../src/sandbox/keyvault/throttle.js';
import { KeyVaultError } from '../../../../src/sandbox/keyvault/errors.js';
import { completePolicy, normaliseSubject, validityEnd } from '../../../../src/sandbox/keyvault/policy.js';
import { issueSelfSigned } from '../../../../src/sandbox/keyvault/issuance.js';
import { createKeyVaultService } from '../../../../src/sandbox/keyvault/index.js';
import {
  recoveryAttributes,
  recoverySettings,
  scheduledPurgeDate,
} from '../../../../src/sandbox/keyvault/soft-delete.js';

class SimClock {
  t = Date.UTC(2026, 0, 1);
  now = () => this.t;
}

/** Every string and byte array reachable from `value`, to search for key material. */
function leaves(value: unknown, out: Array<string | Uint8Array> = []): Array<string | Uint8Array> {
  if (typeof value === 'string' || value instanceof Uint8Array) out.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) leaves(v, out);
  return out;
}

async function material() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = {
    privateKey: await crypto.subtle.importKey(
      'pkcs8',
      privateKey.export({ type: 'pkcs8', format: 'der' }),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      true,
      ['sign'],
    ),
    publicKey: await crypto.subtle.importKey(
      'spki',
      publicKey.export({ type: 'spki', format: 'der' }),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      true,
      ['verify'],
    ),
  };
  const policy = completePolicy({ x509_props: { subject: 'CN=unit' } }, 1_700_000_000);
  const issued = await issueSelfSigned(policy, keys, 1_700_000_000, 1_800_000_000);
  return { ...issued, privateKey };
}

describe('VaultStore', () => {
  it('never exposes a private key (nor any byte array) through state()', async () => {
    const clock = new SimClock();
    const store = new VaultStore(clock.now);
    const m = await material();
    const policy = completePolicy({ x509_props: { subject: 'CN=unit' } }, 0);
    const record = store.upsert('unit', policy);
    const version: CertificateVersionRecord = {
      version: 'a'.repeat(32),
      certDer: m.certDer,
      thumbprint: thumbprintOf(m.certDer),
      enabled: true,
      nbf: 1,
      exp: 2,
      created: 1,
      updated: 1,
      tags: { t: 'x' },
      contentType: 'application/x-pem-file',
      exportable: true,
    };
    store.addVersion(record, version, m.privateKeyPkcs8);
    const state = store.state('https://vault.test');
    const json = JSON.stringify(state);
    const forbidden = [
      Buffer.from(m.privateKeyPkcs8).toString('base64'),
      Buffer.from(m.privateKeyPkcs8).toString('hex'),
      m.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      (m.privateKey.export({ format: 'jwk' }) as { d: string }).d,
      'PRIVATE KEY',
    ];
    for (const secret of forbidden) expect(json.includes(secret.slice(0, 200))).toBe(false);
    expect(leaves(state).some((l) => l instanceof Uint8Array)).toBe(false);
    expect(state).toEqual({
      url: 'https://vault.test',
      certificates: [
        {
          name: 'unit',
          versions: [
            {
              version: 'a'.repeat(32),
              thumbprint: new X509Certificate(m.certDer).fingerprint.replaceAll(':', ''),
              enabled: true,
              created: '1970-01-01T00:00:01.000Z',
              expires: '1970-01-01T00:00:02.000Z',
              tags: { t: 'x' },
            },
          ],
        },
      ],
    });
    // Mutating the returned state does not reach the store.
    state.certificates[0]!.versions[0]!.tags.t = 'changed';
    expect(store.state('https://vault.test').certificates[0]!.versions[0]!.tags.t).toBe('x');
    // The key stays retrievable for the secret endpoint, by exact name/version only.
    expect(store.privateKeyOf('unit', 'a'.repeat(32))).toBe(m.privateKeyPkcs8);
    expect(store.privateKeyOf('unit', 'b'.repeat(32))).toBeUndefined();
  });

  it('keeps key material out of the service state() after importCertificate', async () => {
    const clock = new SimClock();
    const m = await material();
    const service = createKeyVaultService({
      name: 'kv-unit',
      authorizationUri: 'https://login.test/t',
      resource: 'https://vault.azure.net',
      verifyAccessToken: async () => null,
      takeKeyPair: async () => {
        throw new Error('not used');
      },
      now: clock.now,
      createDelaySeconds: 0,
    });
    service.setBaseUrl('https://127.0.0.1:1/');
    const { version, thumbprint } = await service.importCertificate('seeded', {
      certDer: m.certDer,
      privateKeyPkcs8: m.privateKeyPkcs8,
      tags: { seeded: 'yes' },
    });
    const state = service.state();
    expect(state.url).toBe('https://127.0.0.1:1');
    expect(state.certificates[0]!.versions[0]).toMatchObject({
      version,
      thumbprint,
      enabled: true,
      tags: { seeded: 'yes' },
    });
    expect(thumbprint).toMatch(/^[0-9A-F]{40}$/);
    // Expiry comes from the certificate itself for imported material.
    expect(state.certificates[0]!.versions[0]!.expires).toBe(new Date(1_800_000_000_000).toISOString());
    expect(JSON.stringify(state).includes(Buffer.from(m.privateKeyPkcs8).toString('base64').slice(20, 80))).toBe(false);
    // A key that does not belong to the certificate is refused and nothing is stored.
    const other = await material();
    await expect(
      service.importCertificate('mismatch', { certDer: m.certDer, privateKeyPkcs8: other.privateKeyPkcs8 }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter' });
    expect(service.state().certificates.map((c) => c.name)).toEqual(['seeded']);
  });

  it('publishes a pending create exactly once, when the simulated clock reaches it', async () => {
    const clock = new SimClock();
    const store = new VaultStore(clock.now);
    const m = await material();
    const record = store.upsert('p', completePolicy({ x509_props: { subject: 'CN=p' } }, 0));
    const staged: CertificateVersionRecord = {
      version: 'c'.repeat(32),
      certDer: m.certDer,
      thumbprint: thumbprintOf(m.certDer),
      enabled: true,
      nbf: 0,
      exp: 1,
      created: 0,
      updated: 0,
      tags: {},
      contentType: 'application/x-pkcs12',
      exportable: true,
    };
    store.startPending(
      record,
      {
        version: staged.version,
        requestId: 'r',
        csrDer: m.csrDer,
        status: 'inProgress',
        cancellationRequested: false,
        completesAt: clock.t + 5_000,
        staged,
      },
      m.privateKeyPkcs8,
    );
    clock.t += 4_999;
    expect(store.get('p')!.versions).toHaveLength(0);
    expect(store.get('p')!.pending!.status).toBe('inProgress');
    clock.t += 1;
    expect(store.get('p')!.versions.map((v) => v.version)).toEqual(['c'.repeat(32)]);
    expect(store.get('p')!.pending!.status).toBe('completed');
    clock.t += 60_000;
    expect(store.list()[0]!.versions).toHaveLength(1);
  });
});

describe('VaultStore soft delete', () => {
  const version = (v: string, certDer: Uint8Array): CertificateVersionRecord => ({
    version: v.repeat(32),
    certDer,
    thumbprint: thumbprintOf(certDer),
    enabled: true,
    nbf: 0,
    exp: 1,
    created: 0,
    updated: 0,
    tags: { keep: 'me' },
    contentType: 'application/x-pem-file',
    exportable: true,
  });

  it('keeps a deleted certificate whole (versions, keys, policy) until recovered, and never lists it as live', async () => {
    const clock = new SimClock();
    const store = new VaultStore(clock.now);
    const m = await material();
    const record = store.upsert('sd', completePolicy({ x509_props: { subject: 'CN=sd' } }, 0));
    store.addVersion(record, version('a', m.certDer), m.privateKeyPkcs8);
    const deletedAt = clock.t / 1000;
    const deleted = store.softDelete('sd', deletedAt, deletedAt + 90 * 86_400)!;
    expect(deleted).toMatchObject({ deletedDate: deletedAt, scheduledPurgeDate: deletedAt + 90 * 86_400 });
    expect(store.get('sd')).toBeUndefined();
    expect(store.list()).toEqual([]);
    expect(store.state('https://v').certificates).toEqual([]);
    expect(store.listDeleted().map((d) => d.record.name)).toEqual(['sd']);
    // The key survives the soft delete, so recover restores a working secret.
    expect(store.privateKeyOf('sd', 'a'.repeat(32))).toBe(m.privateKeyPkcs8);
    const back = store.recover('sd')!;
    expect(back.versions.map((v) => v.version)).toEqual(['a'.repeat(32)]);
    expect(back.versions[0]!.tags).toEqual({ keep: 'me' });
    expect(back.policy.x509_props.subject).toBe('CN=sd');
    expect(store.get('sd')).toBe(back);
    expect(store.getDeleted('sd')).toBeUndefined();
    expect(store.recover('sd')).toBeUndefined();
  });

  it('purges on request or once the simulated clock passes the scheduled purge date, dropping the keys', async () => {
    const clock = new SimClock();
    const store = new VaultStore(clock.now);
    const m = await material();
    for (const name of ['p1', 'p2']) {
      const r = store.upsert(name, completePolicy({ x509_props: { subject: `CN=${name}` } }, 0));
      store.addVersion(r, version('b', m.certDer), m.privateKeyPkcs8);
      store.softDelete(name, clock.t / 1000, clock.t / 1000 + 7 * 86_400);
    }
    expect(store.purge('p1')?.record.name).toBe('p1');
    expect(store.getDeleted('p1')).toBeUndefined();
    expect(store.privateKeyOf('p1', 'b'.repeat(32))).toBeUndefined();
    clock.t += 7 * 86_400_000 - 1;
    expect(store.getDeleted('p2')).toBeDefined();
    clock.t += 1;
    expect(store.listDeleted()).toEqual([]);
    expect(store.privateKeyOf('p2', 'b'.repeat(32))).toBeUndefined();
    expect(store.purge('p2')).toBeUndefined();
  });

  it('removes outright a certificate that has no version yet, abandoning its pending create', async () => {
    const clock = new SimClock();
    const store = new VaultStore(clock.now);
    const m = await material();
    const record = store.upsert('only-pending', completePolicy({ x509_props: { subject: 'CN=o' } }, 0));
    const staged = version('c', m.certDer);
    store.startPending(
      record,
      {
        version: staged.version,
        requestId: 'r',
        csrDer: m.csrDer,
        status: 'inProgress',
        cancellationRequested: false,
        completesAt: clock.t + 5_000,
        staged,
      },
      m.privateKeyPkcs8,
    );
    expect(store.softDelete('only-pending', 0, 1)).toBeUndefined();
    expect(store.get('only-pending')).toBeUndefined();
    expect(store.getDeleted('only-pending')).toBeUndefined();
    expect(store.privateKeyOf('only-pending', staged.version)).toBeUndefined();
    expect(store.softDelete('never-existed', 0, 1)).toBeUndefined();
  });
});

describe('recovery settings', () => {
  const base = {
    name: 'kv',
    authorizationUri: 'https://login.test/t',
    resource: 'https://vault.azure.net',
    verifyAccessToken: async () => null,
    takeKeyPair: async () => {
      throw new Error('not used');
    },
    now: () => 0,
    createDelaySeconds: 0,
  };

  it('defaults to Azure: soft delete on, 90 days, no purge protection', () => {
    const s = recoverySettings(base);
    expect(s).toEqual({ softDelete: true, retentionDays: 90, purgeProtection: false });
    expect(recoveryAttributes(s)).toEqual({ recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 });
    expect(scheduledPurgeDate(s, 1_000)).toBe(1_000 + 90 * 86_400);
  });

  it('maps each combination to its DeletionRecoveryLevel', () => {
    const level = (o: object) => recoveryAttributes(recoverySettings({ ...base, ...o }));
    expect(level({ softDelete: false })).toEqual({ recoveryLevel: 'Purgeable' });
    expect(level({ purgeProtection: true })).toEqual({ recoveryLevel: 'Recoverable', recoverableDays: 90 });
    expect(level({ softDeleteRetentionDays: 7 })).toEqual({
      recoveryLevel: 'CustomizedRecoverable+Purgeable',
      recoverableDays: 7,
    });
    expect(level({ softDeleteRetentionDays: 30, purgeProtection: true })).toEqual({
      recoveryLevel: 'CustomizedRecoverable',
      recoverableDays: 30,
    });
  });

  it('refuses a retention outside 7..90 days, naming the value', () => {
    for (const bad of [6, 91, 7.5]) {
      expect(() => recoverySettings({ ...base, softDeleteRetentionDays: bad })).toThrow(
        `softDeleteRetentionDays ${bad} is invalid: use a whole number of days within 7..90.`,
      );
    }
  });
});

describe('WriteBudget', () => {
  it('allows the budget per sliding 10 s window and names the wait in Retry-After', () => {
    const clock = new SimClock();
    const budget = new WriteBudget(clock.now, 3);
    budget.take();
    clock.t += 2_000;
    budget.take();
    budget.take();
    let error: KeyVaultError | undefined;
    try {
      budget.take();
    } catch (e) {
      error = e as KeyVaultError;
    }
    expect(error).toBeInstanceOf(KeyVaultError);
    expect(error!.statusCode).toBe(429);
    expect(error!.code).toBe('Throttled');
    expect(error!.headers['retry-after']).toBe('8');
    // The refused write did not count: once the first write leaves the window, exactly one more fits.
    clock.t += 8_000;
    budget.take();
    expect(() => budget.take()).toThrow(KeyVaultError);
  });

  it('never throttles with a budget of 0 or undefined', () => {
    const clock = new SimClock();
    for (const b of [0, undefined]) {
      const budget = new WriteBudget(clock.now, b);
      for (let i = 0; i < 10_000; i++) budget.take();
    }
  });
});

describe('policy defaults', () => {
  it('fills in the service defaults seen in the recordings', () => {
    const p = completePolicy({ x509_props: { subject: 'cn=MyCert', sans: {} } }, 100);
    expect(p).toEqual({
      key_props: { exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false },
      secret_props: { contentType: 'application/x-pkcs12' },
      x509_props: {
        subject: 'cn=MyCert',
        ekus: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
        key_usage: ['digitalSignature', 'keyEncipherment'],
        validity_months: 12,
        basic_constraints: { ca: false },
      },
      lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: 'AutoRenew' } }],
      issuer: { name: 'Self' },
      attributes: { enabled: true, created: 100, updated: 100 },
    });
  });

  it('keeps stored fields a partial update leaves out, and refuses what it cannot issue', () => {
    const base = completePolicy(
      { x509_props: { subject: 'CN=a', validity_months: 24 }, key_props: { key_size: 4096 } },
      1,
    );
    const next = completePolicy({ secret_props: { contentType: 'application/x-pem-file' } }, 2, base);
    expect(next.x509_props).toMatchObject({ subject: 'CN=a', validity_months: 24 });
    expect(next.key_props.key_size).toBe(4096);
    expect(next.attributes).toEqual({ enabled: true, created: 1, updated: 2 });
    expect(() => completePolicy({ x509_props: { subject: 'CN=a' }, key_props: { key_size: 1024 } }, 0)).toThrow(
      /key size/,
    );
    expect(() =>
      completePolicy({ x509_props: { subject: 'CN=a' }, issuer: { name: 'DigiCert' } }, 0, undefined, {
        requireSelfIssuer: true,
      }),
    ).toThrow(/Issuer/);
    expect(() => completePolicy({}, 0)).toThrow(/subject/);
  });

  it('upper-cases attribute types for the X.500 parser and maps 12 months to 365 days', () => {
    expect(normaliseSubject('cn=MyCert, o=Contoso; ou=IT')).toBe('CN=MyCert, O=Contoso, OU=IT');
    expect(validityEnd(0, 12)).toBe(365 * 86_400);
    expect(validityEnd(0, 24)).toBe(730 * 86_400);
  });
});

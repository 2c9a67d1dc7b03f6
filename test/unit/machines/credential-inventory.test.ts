import { describe, expect, it } from 'vitest';
import type { CertificateVersion, KeyCredential } from '../../../src/adapters/ports.js';
import {
  credentialInventory,
  inFlightMessage,
  orphanVersionPremise,
  runStartedAt,
  signInWindowStart,
  type InventoryInput,
} from '../../../src/machines/credential-inventory.js';
import { credentialDisplayName, RUN_TAG } from '../../../src/machines/world-markers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-06-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A run id as newRunId makes it, started `agoMs` before NOW. */
const runId = (agoMs: number, tag: string) =>
  `${iso(NOW - agoMs)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-contoso-${tag}`;

function key(thumb: string, startAgoMs: number, o: { runId?: string; endInMs?: number; usage?: string } = {}) {
  return {
    keyId: `kid-${thumb}`,
    thumbprint: thumb.padEnd(40, '0'),
    startDateTime: iso(NOW - startAgoMs),
    endDateTime: iso(NOW + (o.endInMs ?? 700 * DAY)),
    usage: o.usage ?? 'Verify',
    type: 'AsymmetricX509Cert',
    ...(o.runId ? { displayName: credentialDisplayName(o.runId) } : { displayName: 'CN=contoso-s2s' }),
  } satisfies KeyCredential;
}

const T = (thumb: string) => thumb.padEnd(40, '0');

function input(credentials: KeyCredential[], over: Partial<InventoryInput> = {}): InventoryInput {
  return {
    now: NOW,
    credentials,
    versions: [],
    inUseThumbprint: T('AA'),
    runs: [],
    staleRunAfterMs: DAY,
    ...over,
  };
}

const roles = (i: InventoryInput) =>
  Object.fromEntries(credentialInventory(i).entries.map((e) => [e.thumbprint.slice(0, 2), e.role]));

describe('credential inventory', () => {
  it('one key, the one the server uses: in use, nothing in flight, no orphan', () => {
    const inv = credentialInventory(input([key('AA', 300 * DAY)]));
    expect(inv.entries.map((e) => e.role)).toEqual(['inUse']);
    expect(inv.inFlight).toBeUndefined();
    expect(inv.orphans).toEqual([]);
  });

  it("a lost agent's newer key within the staleness bound is in flight, naming its run", () => {
    const lost = runId(HOUR, 'aaaaaa');
    const i = input([key('AA', 300 * DAY), key('BB', HOUR - 60_000, { runId: lost })]);
    const inv = credentialInventory(i);
    expect(roles(i)).toEqual({ AA: 'inUse', BB: 'inFlight' });
    expect(inv.inFlight).toMatchObject({ runId: lost, thumbprint: T('BB'), liveness: 'recent' });
    expect(inv.inFlight!.staleAt).toBe(iso(NOW - HOUR + DAY));
    expect(inFlightMessage('contoso', inv.inFlight!)).toContain(`certrotate resume ${lost}`);
    expect(inFlightMessage('contoso', inv.inFlight!)).toContain('certrotate prune contoso');
  });

  it('the same key past the staleness bound is orphaned', () => {
    const lost = runId(2 * DAY, 'aaaaaa');
    const i = input([key('AA', 300 * DAY), key('BB', 2 * DAY, { runId: lost })]);
    const inv = credentialInventory(i);
    expect(roles(i)).toEqual({ AA: 'inUse', BB: 'orphaned' });
    expect(inv.inFlight).toBeUndefined();
    expect(inv.orphans.map((o) => o.runId)).toEqual([lost]);
    expect(inv.orphans[0]!.liveness).toBe('stale');
  });

  it('a configurable bound: 0 makes every run with no local record stale at once', () => {
    const lost = runId(1000, 'aaaaaa');
    const i = input([key('AA', 300 * DAY), key('BB', 1000, { runId: lost })], { staleRunAfterMs: 0 });
    expect(roles(i)).toEqual({ AA: 'inUse', BB: 'orphaned' });
  });

  it('a local unfinished run keeps its key in flight however old; a finished one leaves an orphan', () => {
    const old = runId(10 * DAY, 'bbbbbb');
    const keys = [key('AA', 300 * DAY), key('BB', 10 * DAY, { runId: old })];
    expect(roles(input(keys, { runs: [{ runId: old, finished: false }] }))).toEqual({ AA: 'inUse', BB: 'inFlight' });
    expect(roles(input(keys, { runs: [{ runId: old, finished: true }] }))).toEqual({ AA: 'inUse', BB: 'orphaned' });
  });

  it('a run holding the target lock is live even with no local record and past the bound', () => {
    const old = runId(10 * DAY, 'cccccc');
    const i = input([key('AA', 300 * DAY), key('BB', 10 * DAY, { runId: old })], { lockHolderRunId: old });
    expect(credentialInventory(i).inFlight).toMatchObject({ runId: old, liveness: 'lockHeld' });
  });

  it('only the newest live key is in flight; an older one of a run that lost to it is orphaned', () => {
    const first = runId(3 * HOUR, 'dddddd');
    const second = runId(HOUR, 'eeeeee');
    const i = input([key('AA', 300 * DAY), key('BB', 3 * HOUR, { runId: first }), key('CC', HOUR, { runId: second })]);
    expect(roles(i)).toEqual({ AA: 'inUse', BB: 'orphaned', CC: 'inFlight' });
    expect(credentialInventory(i).inFlight!.runId).toBe(second);
  });

  it('a live key older than the key in use is not in flight: a server never moves back to it', () => {
    const lost = runId(3 * HOUR, 'ffffff');
    const i = input([key('AA', HOUR), key('BB', 3 * HOUR, { runId: lost })]);
    expect(roles(i)).toEqual({ AA: 'inUse', BB: 'orphaned' });
    expect(credentialInventory(i).inFlight).toBeUndefined();
  });

  it('the key in use of a live run that has not retired the old one: in flight, and the old key is its rollback key', () => {
    const live = runId(HOUR, 'a1a1a1');
    const i = input([key('OLD', 300 * DAY), key('AA', HOUR, { runId: live }), key('ORF', 400 * DAY)]);
    const inv = credentialInventory(i);
    expect(roles(i)).toEqual({ OL: 'previous', AA: 'inUse', OR: 'orphaned' });
    expect(inv.inFlight).toMatchObject({ runId: live, thumbprint: T('AA') });
  });

  it("an unfinished local run's old key is its rollback key, never an orphan", () => {
    const live = runId(HOUR, 'b2b2b2');
    const i = input([key('OLD', 300 * DAY), key('AA', HOUR, { runId: live })], {
      runs: [{ runId: live, finished: false, oldThumbprint: T('OLD') }],
    });
    expect(roles(i)).toEqual({ OL: 'previous', AA: 'inUse' });
  });

  it('unmarked valid keys the server does not use are orphaned; expired and non-Verify keys are not', () => {
    const i = input([
      key('AA', 300 * DAY),
      key('BB', 200 * DAY),
      key('CC', 800 * DAY, { endInMs: -DAY }),
      key('DD', 100 * DAY, { usage: 'Sign' }),
    ]);
    expect(roles(i)).toEqual({ AA: 'inUse', BB: 'orphaned', CC: 'expired', DD: 'foreign' });
    expect(credentialInventory(i).orphans.map((o) => o.runId)).toEqual([null]);
  });

  it('reads the run from the vault version tag when the credential carries no marker', () => {
    const lost = runId(HOUR, 'c3c3c3');
    const version: CertificateVersion = {
      version: 'v2',
      thumbprint: T('BB'),
      secretId: 'https://kv/secrets/c/v2',
      enabled: true,
      createdOn: iso(NOW - HOUR),
      notBefore: iso(NOW - HOUR),
      expiresOn: iso(NOW + 700 * DAY),
      tags: { [RUN_TAG]: lost },
    };
    const inv = credentialInventory(input([key('AA', 300 * DAY), key('BB', HOUR)], { versions: [version] }));
    expect(inv.entries[1]).toMatchObject({ runId: lost, role: 'inFlight', version: 'v2', versionEnabled: true });
  });

  it('the sign-in window opens when the orphan stopped being its own run’s: a stale run’s start plus the bound', () => {
    const lost = runId(2 * DAY, 'd4d4d4');
    const i = input([key('AA', 300 * DAY), key('BB', 2 * DAY, { runId: lost })]);
    const inv = credentialInventory(i);
    expect(signInWindowStart(inv.orphans[0]!, inv, i)).toBe(iso(NOW - 2 * DAY + DAY));
    // An unmarked orphan: from the start of the key in use.
    const j = input([key('AA', 3 * DAY), key('BB', 300 * DAY)]);
    const inv2 = credentialInventory(j);
    expect(signInWindowStart(inv2.orphans[0]!, inv2, j)).toBe(iso(NOW - 3 * DAY));
  });

  it('reads the start time from a run id', () => {
    expect(runStartedAt('20261201T120000Z-contoso-abcdef')).toBe(Date.parse('2026-12-01T12:00:00Z'));
    expect(runStartedAt('run-0001')).toBeUndefined();
  });
});

/** A Key Vault version of the target's certificate, made `agoMs` before NOW, tagged with `run` when given. */
function version(
  thumb: string,
  agoMs: number,
  o: { run?: string; enabled?: boolean; expiresInMs?: number } = {},
): CertificateVersion {
  return {
    version: `v-${thumb}`,
    thumbprint: T(thumb),
    secretId: `https://kv/secrets/c/v-${thumb}`,
    enabled: o.enabled ?? true,
    createdOn: iso(NOW - agoMs),
    notBefore: iso(NOW - agoMs - 600_000),
    expiresOn: iso(NOW + (o.expiresInMs ?? 700 * DAY)),
    tags: o.run ? { [RUN_TAG]: o.run } : {},
  };
}

describe('credential inventory: versions no credential holds (a create that completed after its run ended)', () => {
  const run = runId(2 * HOUR, 'late01');
  const inUse = [key('AA', 300 * DAY)];

  it('a version of a locally finished run, created after its last record, is orphaned: created after its run ended', () => {
    const i = input(inUse, {
      versions: [version('AA', 300 * DAY), version('LV', HOUR, { run })],
      runs: [{ runId: run, finished: true, updatedAt: iso(NOW - 90 * 60_000) }],
    });
    const inv = credentialInventory(i);
    expect(inv.orphanVersions).toEqual([
      expect.objectContaining({
        version: 'v-LV',
        thumbprint: T('LV'),
        runId: run,
        liveness: 'finished',
        createdAfterRunEnded: true,
        why: expect.stringContaining('created after its run ended'),
      }),
    ]);
    // The credentials are judged as before: the key in use, nothing in flight, no credential orphan.
    expect(roles(i)).toEqual({ AA: 'inUse' });
    expect(inv.orphans).toEqual([]);
    expect(orphanVersionPremise(i, 'v-LV')).toBeUndefined();
  });

  it('with no local record, the world decides: past the staleness bound orphaned, within it the run may attach it', () => {
    const versions = [version('LV', HOUR, { run })];
    const stale = credentialInventory(input(inUse, { versions, staleRunAfterMs: HOUR }));
    expect(stale.orphanVersions).toEqual([
      expect.objectContaining({ runId: run, liveness: 'stale', createdAfterRunEnded: false }),
    ]);
    expect(stale.orphanVersions[0]!.why).toContain(run);
    expect(credentialInventory(input(inUse, { versions, staleRunAfterMs: DAY })).orphanVersions).toEqual([]);
  });

  it('a live run keeps its unattached version: unfinished locally, or holding the lock', () => {
    const versions = [version('LV', HOUR, { run })];
    const unfinished = input(inUse, { versions, staleRunAfterMs: 0, runs: [{ runId: run, finished: false }] });
    expect(credentialInventory(unfinished).orphanVersions).toEqual([]);
    expect(orphanVersionPremise(unfinished, 'v-LV')).toContain('is live');
    const locked = input(inUse, { versions, staleRunAfterMs: 0, lockHolderRunId: run });
    expect(credentialInventory(locked).orphanVersions).toEqual([]);
  });

  it('never an orphan: on the app, its run with a key on the app, the key in service, disabled, expired, untagged', () => {
    const gone = { staleRunAfterMs: 0 };
    const premise = (credentials: KeyCredential[], v: CertificateVersion, over: Partial<InventoryInput> = {}) =>
      orphanVersionPremise(input(credentials, { versions: [v], ...gone, ...over }), v.version);
    expect(premise([...inUse, key('LV', HOUR)], version('LV', HOUR, { run }))).toBe('the app holds its key');
    expect(premise([...inUse, key('BB', HOUR, { runId: run })], version('LV', HOUR, { run }))).toContain(
      `a key of its run ${run}`,
    );
    expect(premise([key('LV', HOUR)], version('LV', HOUR, { run }), { inUseThumbprint: T('LV') })).toBe(
      'its key is the one in service',
    );
    expect(premise(inUse, version('LV', HOUR, { run, enabled: false }))).toBe('it is disabled');
    expect(premise(inUse, version('LV', HOUR, { run, expiresInMs: -1 }))).toContain('expired');
    expect(premise(inUse, version('LV', HOUR))).toContain('no run tag');
    expect(orphanVersionPremise(input(inUse, gone), 'v-XX')).toBe('the version is gone');
  });
});

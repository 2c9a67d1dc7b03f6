/**
 * The safety invariants of DESIGN §2, checked over a fake world's whole history.
 */
import type { FakeWorld, HistoryEvent } from './world.js';

type KeySet = Extract<HistoryEvent, { kind: 'appKeys' }>['keys'];

/**
 * I1 never keyless: after every change, the app holds a certificate credential valid at that instant whose
 * thumbprint is the key the server uses.
 */
export function checkI1(world: FakeWorld): string[] {
  const problems: string[] = [];
  let keys: KeySet | undefined;
  let server: string | undefined;
  for (const event of world.history) {
    if (event.kind === 'appKeys') keys = event.keys;
    else if (event.kind === 'serverKey') server = event.thumbprint;
    else continue;
    if (!keys || server === undefined) continue;
    const ok = keys.some(
      (k) => k.thumbprint === server && Date.parse(k.start) <= event.time && event.time < Date.parse(k.end),
    );
    if (!ok) problems.push(`I1 at ${new Date(event.time).toISOString()}: server key ${server} not valid on the app`);
  }
  return problems;
}

/** I2 verify before retire: a key leaves the app only after some newer key produced a token. */
export function checkI2(world: FakeWorld, oldThumbprint: string): string[] {
  const problems: string[] = [];
  const tokensBy = (time: number) =>
    world.history.some((e) => e.kind === 'token' && e.thumbprint !== oldThumbprint && e.time <= time);
  for (const event of world.history) {
    if (event.kind === 'keyRemoved' && event.thumbprint === oldThumbprint && !tokensBy(event.time)) {
      problems.push(`I2: old key ${oldThumbprint} removed before the new key produced a token`);
    }
  }
  return problems;
}

/**
 * I3 idempotent steps: at most one new Key Vault version per run, at most one credential added per thumbprint,
 * no key removed twice, and no key other than the run's old or new one removed. What `otherRuns` (other agents'
 * runs a test plays beside this one) created is theirs: it is left out of this run's count.
 */
export function checkI3(world: FakeWorld, runId: string, oldThumbprint: string, otherRuns: string[] = []): string[] {
  const problems: string[] = [];
  const created = world.history.filter(
    (e) => e.kind === 'versionCreated' && (e.runId === undefined || !otherRuns.includes(e.runId)),
  );
  const ours = created.filter((e) => e.kind === 'versionCreated' && e.runId === runId);
  if (created.length > 1 || ours.length !== created.length) {
    problems.push(`I3: ${created.length} versions created (${ours.length} tagged with the run)`);
  }
  const added = new Map<string, number>();
  for (const e of world.history) if (e.kind === 'keyAdded') added.set(e.thumbprint, (added.get(e.thumbprint) ?? 0) + 1);
  for (const [thumbprint, count] of added) if (count > 1) problems.push(`I3: key ${thumbprint} added ${count} times`);
  const removed = world.history.filter((e) => e.kind === 'keyRemoved');
  const removedIds = new Set(removed.map((e) => (e.kind === 'keyRemoved' ? e.keyId : '')));
  if (removedIds.size !== removed.length) problems.push('I3: a key credential was removed twice');
  const newThumbprints = new Set(created.map((e) => (e.kind === 'versionCreated' ? e.thumbprint : '')));
  for (const e of removed) {
    if (e.kind === 'keyRemoved' && e.thumbprint !== oldThumbprint && !newThumbprints.has(e.thumbprint)) {
      problems.push(`I3: removed unrelated key ${e.thumbprint}`);
    }
  }
  return problems;
}

/**
 * I1, operationally: every key put on the server already produced tokens when it was installed (a key Entra has
 * not propagated yet would leave the server unable to authenticate).
 */
export function checkServerKeysUsable(world: FakeWorld): string[] {
  return world.history
    .filter((e) => e.kind === 'serverKey' && e.usable === false)
    .map((e) => `I1: server switched to ${e.kind === 'serverKey' ? e.thumbprint : ''} before Entra accepted it`);
}

/** All of them, for a run whose old key was `oldThumbprint`. */
export function checkInvariants(world: FakeWorld, runId: string, oldThumbprint: string): string[] {
  return [
    ...checkI1(world),
    ...checkServerKeysUsable(world),
    ...checkI2(world, oldThumbprint),
    ...checkI3(world, runId, oldThumbprint),
  ];
}

/**
 * I1 for power-pages: after every change to the app's keys or the site's key, the key the site uses is a credential
 * of the app (the seeded key until Update key, the platform's key after). A platform that drops the old key itself
 * is the platform's doing, so only removals by certrotate (`removeKey`, `patch`) of the site's key count.
 */
export function checkSiteI1(world: FakeWorld): string[] {
  const problems: string[] = [];
  let keys: KeySet | undefined;
  let site: string | undefined = world.history.find((e) => e.kind === 'appKeys')?.keys[0]?.thumbprint;
  for (const event of world.history) {
    if (event.kind === 'appKeys') keys = event.keys;
    else if (event.kind === 'siteKey') site = event.thumbprint;
    else if (event.kind === 'keyRemoved' && event.via !== 'platform' && event.thumbprint === site) {
      problems.push(`I1 at ${new Date(event.time).toISOString()}: certrotate removed the site's key ${site}`);
      continue;
    } else continue;
    if (!keys || site === undefined || world.siteFederated) continue;
    if (!keys.some((k) => k.thumbprint === site)) {
      problems.push(`I1 at ${new Date(event.time).toISOString()}: the site's key ${site} is not on the app`);
    }
  }
  return problems;
}

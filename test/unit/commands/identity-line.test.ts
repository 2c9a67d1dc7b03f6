/**
 * The identity read of rotate's power-pages preflight (and plan) is bounded (src/commands/identity-line.ts): a
 * Dataverse that never answers costs 10 s and a "not checked" line, its reads are aborted, and the rotation goes on.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DataverseIdentityReader, IdentitySnapshot } from '../../../src/adapters/azure/dataverse-identity.js';
import { boundedIdentity, identityLine, IDENTITY_READ_TIMEOUT_MS } from '../../../src/commands/identity-line.js';
import type { PowerPagesTargetConfig } from '../../../src/config/schema.js';

const target: PowerPagesTargetConfig = {
  name: 'contoso-portal',
  kind: 'power-pages',
  environmentId: '11111111-1111-4111-8111-111111111111',
  websiteId: '22222222-2222-4222-8222-222222222222',
  app: { appId: '33333333-3333-4333-8333-333333333333' },
  resumeTimeout: 30 * 60_000,
};

/** A reader whose every read waits forever (ignoring its signal, as a hung socket might), noting the signals. */
function silentReader(signals: AbortSignal[]): DataverseIdentityReader {
  const never = <T>(signal?: AbortSignal) => {
    if (signal) signals.push(signal);
    return new Promise<T>(() => undefined);
  };
  return {
    read: (req) => never(req.signal),
    portalUsers: (_url, o) => never(o?.signal),
    website: (_env, _id, o) => never(o?.signal),
  };
}

// The audit module is loaded on first use: load it here, so the simulated clock measures only the reads.
beforeAll(async () => {
  await import('../../../src/commands/identity.js');
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the bounded identity read', () => {
  it('gives up after 10 s with "not checked", aborting the read; the line says so', async () => {
    vi.useFakeTimers();
    const signals: AbortSignal[] = [];
    let settled = false;
    const row = boundedIdentity(() => Promise.resolve(silentReader(signals)), target).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(IDENTITY_READ_TIMEOUT_MS - 1);
    expect(settled).toBe(false);
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => !s.aborted)).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    const done = await row;
    expect(done).toMatchObject({ name: 'contoso-portal', verdict: null, identity: null });
    expect(identityLine(target.name, done)).toBe('identity: not checked (Dataverse did not answer within 10 s)');
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives the verdict of a Dataverse that answers in time, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const snapshot: IdentitySnapshot = {
      appUser: null,
      systemUserId: '44444444-4444-4444-8444-444444444444',
      rootRoleNames: new Map(),
      workflows: [],
      texts: [],
      unreadable: [],
    };
    const reader: DataverseIdentityReader = {
      read: () => Promise.resolve(snapshot),
      portalUsers: () => Promise.resolve([]),
      website: () =>
        Promise.resolve({ dataverseUrl: 'https://org.crm.dynamics.com', websiteRecordId: 'w1', name: 'S' }),
    };
    const row = await boundedIdentity(() => Promise.resolve(reader), target);
    expect(row.error).toBeUndefined();
    expect(identityLine(target.name, row)).toMatch(/^Identity: /);
    expect(vi.getTimerCount()).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import {
  defaultBudgetFor,
  keysForRequest,
  ServiceLimiter,
  type LimiterClock,
} from '../../../../src/adapters/azure/limiter.js';
import { cachedCredential } from '../../../../src/adapters/azure/limiter-policies.js';

/** A clock whose sleeps resolve only when the test advances time. */
function fakeClock(start = 1_000_000) {
  let t = start;
  const timers: { at: number; resolve: () => void }[] = [];
  const clock: LimiterClock & { advance(ms: number): Promise<void>; settle(): Promise<void> } = {
    now: () => t,
    sleep: (ms) => new Promise<void>((resolve) => timers.push({ at: t + ms, resolve })),
    async settle() {
      for (let i = 0; i < 20; i++) await Promise.resolve();
    },
    async advance(ms) {
      const end = t + ms;
      for (;;) {
        await clock.settle();
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        t = next.at;
        next.resolve();
      }
      t = end;
      await clock.settle();
    },
  };
  return clock;
}

interface Res {
  status: number;
  headers: Record<string, string>;
}
const facts = (r: Res) => ({ status: r.status, header: (n: string) => r.headers[n] });
const ok: Res = { status: 200, headers: {} };

describe('ServiceLimiter', () => {
  it('keeps at most `concurrency` requests of a key in flight', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 3 }) });
    let inFlight = 0;
    let peak = 0;
    const send = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await clock.sleep(50);
      inFlight--;
      return ok;
    };
    const all = Promise.all(Array.from({ length: 10 }, () => limiter.run(['k'], send, { facts })));
    await clock.advance(1000);
    expect(await all).toHaveLength(10);
    expect(peak).toBe(3);
    expect(limiter.stats().k).toEqual({ requests: 10, throttled: 0, peakInFlight: 3 });
  });

  it('admits a burst of the rate budget, then one request per interval', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({
      clock,
      budgetFor: () => ({ concurrency: 100, rate: { requests: 5, windowMs: 10_000 } }),
    });
    const sentAt: number[] = [];
    const all = Promise.all(
      Array.from({ length: 7 }, () =>
        limiter.run(
          ['kv'],
          async () => {
            sentAt.push(clock.now());
            return ok;
          },
          { facts },
        ),
      ),
    );
    await clock.advance(10_000);
    await all;
    const t0 = sentAt[0]!;
    // 5 at once, then the bucket refills at 5 per 10 s: one every 2 s.
    expect(sentAt.map((t) => t - t0)).toEqual([0, 0, 0, 0, 0, 2000, 4000]);
  });

  it('a 429 with Retry-After (seconds) pauses everyone sharing the key and is retried, not returned', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 10 }) });
    const sentAt: number[] = [];
    let first = true;
    const send = async () => {
      sentAt.push(clock.now());
      if (first) {
        first = false;
        return { status: 429, headers: { 'retry-after': '3' } };
      }
      return ok;
    };
    const a = limiter.run(['vault'], send, { facts, method: 'POST' });
    await clock.settle();
    const b = limiter.run(['vault'], send, { facts });
    await clock.advance(2999);
    expect(sentAt).toHaveLength(1);
    await clock.advance(1);
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    const t0 = sentAt[0]!;
    expect(sentAt.map((t) => t - t0)).toEqual([0, 3000, 3000]);
    expect(limiter.stats().vault?.throttled).toBe(1);
  });

  it('honours Retry-After as an HTTP-date', async () => {
    const clock = fakeClock(Date.parse('2026-12-01T10:00:00Z'));
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 1 }) });
    const sentAt: number[] = [];
    const r = limiter.run(
      ['g'],
      async () => {
        sentAt.push(clock.now());
        return sentAt.length === 1 ? { status: 503, headers: { 'retry-after': 'Tue, 01 Dec 2026 10:00:05 GMT' } } : ok;
      },
      { facts, method: 'GET' },
    );
    await clock.advance(10_000);
    expect((await r).status).toBe(200);
    expect(sentAt[1]! - sentAt[0]!).toBe(5000);
  });

  it('returns the throttle when its wait passes the deadline (the step then waits durably)', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 1 }), maxWaitMs: 10_000 });
    let calls = 0;
    const r = limiter.run(
      ['g'],
      async () => {
        calls++;
        return { status: 429, headers: { 'retry-after': '60' } };
      },
      { facts },
    );
    await clock.advance(0);
    expect((await r).status).toBe(429);
    expect(calls).toBe(1);
  });

  it('does not hold a request for a pause longer than its deadline: it goes out and meets the service', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 1 }), maxWaitMs: 10_000 });
    const first = limiter.run(['g'], async () => ({ status: 429, headers: { 'retry-after': '120' } }), { facts });
    await clock.advance(0);
    expect((await first).status).toBe(429);
    const t0 = clock.now();
    let sentAt = -1;
    const next = limiter.run(
      ['g'],
      async () => {
        sentAt = clock.now();
        return ok;
      },
      { facts },
    );
    await clock.advance(0);
    expect((await next).status).toBe(200);
    expect(sentAt).toBe(t0);
  });

  it('does not retry a 503 of a write (it may have taken effect)', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 1 }) });
    let calls = 0;
    const r = limiter.run(
      ['g'],
      async () => {
        calls++;
        return { status: 503, headers: { 'retry-after': '1' } };
      },
      { facts, method: 'POST' },
    );
    await clock.advance(5000);
    expect((await r).status).toBe(503);
    expect(calls).toBe(1);
  });

  it('backs off exponentially when a 429 names no wait', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 1 }), backoffMs: 1000 });
    const sentAt: number[] = [];
    const r = limiter.run(
      ['g'],
      async () => {
        sentAt.push(clock.now());
        return sentAt.length < 4 ? { status: 429, headers: {} } : ok;
      },
      { facts },
    );
    await clock.advance(20_000);
    expect((await r).status).toBe(200);
    const t0 = sentAt[0]!;
    expect(sentAt.map((t) => t - t0)).toEqual([0, 1000, 3000, 7000]);
  });

  it("slows down when Graph's x-ms-throttle-limit-percentage says a budget is nearly spent", async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({
      clock,
      budgetFor: () => ({ concurrency: 100, rate: { requests: 100, windowMs: 10_000 } }),
    });
    const sentAt: number[] = [];
    const send = async () => {
      sentAt.push(clock.now());
      return { status: 200, headers: { 'x-ms-throttle-limit-percentage': '0.9' } };
    };
    // One request reports 90 % load; the next ones no longer burst but come at half the rate (one per 200 ms).
    await Promise.all([limiter.run(['g'], send, { facts }), clock.advance(0)]);
    const rest = Promise.all(Array.from({ length: 3 }, () => limiter.run(['g'], send, { facts })));
    await clock.advance(2000);
    await rest;
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    expect(gaps[1]).toBe(200);
    expect(gaps[2]).toBe(200);
  });

  it('a request spending several keys waits for every one of them', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 5 }) });
    const throttled = limiter.run(['tenant'], async () => ({ status: 429, headers: { 'retry-after': '2' } }), {
      facts,
      maxWaitMs: 0,
    });
    await clock.advance(0);
    expect((await throttled).status).toBe(429);
    const sentAt: number[] = [];
    const t0 = clock.now();
    const r = limiter.run(
      ['app', 'tenant'],
      async () => {
        sentAt.push(clock.now());
        return ok;
      },
      { facts },
    );
    await clock.advance(5000);
    await r;
    expect(sentAt[0]! - t0).toBe(2000);
  });
});

describe('ServiceLimiter: sliding windows and narrow budgets', () => {
  it('a slidingWindow budget never admits more than its requests in any window (the bucket alone would)', async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({
      clock,
      budgetFor: () => ({ concurrency: 100, rate: { requests: 5, windowMs: 10_000 }, slidingWindow: true }),
    });
    const sentAt: number[] = [];
    const all = Promise.all(
      Array.from({ length: 12 }, () =>
        limiter.run(
          ['keyvault-create|kv'],
          async () => {
            sentAt.push(clock.now());
            return ok;
          },
          { facts },
        ),
      ),
    );
    await clock.advance(30_000);
    await all;
    const rel = sentAt.map((t) => t - sentAt[0]!);
    // 5 at once; the 6th only once the first has left the window (plus its 100 ms margin), and so on.
    expect(rel.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(rel[5]).toBe(10_100);
    for (let i = 5; i < rel.length; i++) expect(rel[i]! - rel[i - 5]!).toBeGreaterThan(10_000);
  });

  it("a create's 429 pauses the vault's create budget, not the vault's reads", async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({ clock, budgetFor: () => ({ concurrency: 10 }) });
    const create = limiter.run(
      ['keyvault|kv', 'keyvault-create|kv'],
      async () => ({ status: 429, headers: { 'retry-after': '10' } }),
      { facts, method: 'POST', maxWaitMs: 0 },
    );
    await clock.advance(0);
    expect((await create).status).toBe(429);
    const readAt: number[] = [];
    const t0 = clock.now();
    const read = limiter.run(
      ['keyvault|kv'],
      async () => {
        readAt.push(clock.now());
        return ok;
      },
      { facts },
    );
    const secondCreateAt: number[] = [];
    const create2 = limiter.run(
      ['keyvault|kv', 'keyvault-create|kv'],
      async () => {
        secondCreateAt.push(clock.now());
        return ok;
      },
      { facts, method: 'POST' },
    );
    await clock.advance(20_000);
    await Promise.all([read, create2]);
    expect(readAt[0]! - t0).toBe(0);
    expect(secondCreateAt[0]! - t0).toBe(10_000);
    expect(limiter.stats()['keyvault-create|kv']?.throttled).toBe(1);
    expect(limiter.stats()['keyvault|kv']?.throttled).toBe(0);
  });

  it("creates waiting for the create window hold none of the vault's slots: its reads go on", async () => {
    const clock = fakeClock();
    const limiter = new ServiceLimiter({
      clock,
      budgetFor: (key) =>
        key.startsWith('keyvault-create')
          ? { concurrency: 20, rate: { requests: 2, windowMs: 10_000 }, slidingWindow: true }
          : { concurrency: 2 },
    });
    const createdAt: number[] = [];
    const creates = Array.from({ length: 4 }, () =>
      limiter.run(
        ['keyvault|kv', 'keyvault-create|kv'],
        async () => {
          createdAt.push(clock.now());
          return ok;
        },
        { facts, method: 'POST' },
      ),
    );
    await clock.advance(1000);
    expect(createdAt).toHaveLength(2);
    // Two creates wait for the window; the vault's 2 slots stay free for a read.
    const readAt: number[] = [];
    const read = limiter.run(
      ['keyvault|kv'],
      async () => {
        readAt.push(clock.now());
        return ok;
      },
      { facts },
    );
    await clock.advance(0);
    await read;
    expect(readAt).toEqual([clock.now()]);
    await clock.advance(20_000);
    await Promise.all(creates);
    expect(createdAt.map((t) => t - createdAt[0]!)).toEqual([0, 0, 10_100, 10_100]);
  });

  it('the default create budget is a sliding window of 20 per 10 s', () => {
    expect(defaultBudgetFor('keyvault-create|kv')).toEqual({
      concurrency: 20,
      rate: { requests: 20, windowMs: 10_000 },
      slidingWindow: true,
    });
  });
});

describe('keysForRequest', () => {
  it('names the vault, its create budget, Graph per app+tenant and writes per tenant, and the token endpoint', () => {
    expect(
      keysForRequest({ url: 'https://kv1.vault.azure.net/certificates/c/create?api-version=7.6', method: 'POST' }),
    ).toEqual(['keyvault|kv1.vault.azure.net', 'keyvault-create|kv1.vault.azure.net']);
    expect(keysForRequest({ url: 'https://kv1.vault.azure.net/secrets/s/v', method: 'GET' })).toEqual([
      'keyvault|kv1.vault.azure.net',
    ]);
    const caller = { appId: 'app-1', tenantId: 't-1' };
    expect(keysForRequest({ url: 'https://graph.microsoft.com/v1.0/applications/x', method: 'GET', caller })).toEqual([
      'graph|graph.microsoft.com|t-1|app-1',
    ]);
    expect(
      keysForRequest({ url: 'https://graph.microsoft.com/v1.0/applications/x/addKey', method: 'POST', caller }),
    ).toEqual([
      'graph|graph.microsoft.com|t-1|app-1',
      'graph-write-app|graph.microsoft.com|t-1|app-1',
      'graph-write-tenant|graph.microsoft.com|t-1',
    ]);
    expect(keysForRequest({ url: 'https://login.microsoftonline.com/t-1/oauth2/v2.0/token', method: 'POST' })).toEqual([
      'token|login.microsoftonline.com',
    ]);
  });
});

describe('cachedCredential', () => {
  function countingCredential(lifetimeMs: number, now: () => number) {
    const calls: string[] = [];
    const credential: TokenCredential = {
      async getToken(scopes) {
        calls.push([scopes].flat().join(' '));
        await Promise.resolve();
        return { token: `t${calls.length}`, expiresOnTimestamp: now() + lifetimeMs } satisfies AccessToken;
      },
    };
    return { credential, calls };
  }

  it('asks once per scope for many concurrent and later callers while the token lives', async () => {
    let t = 0;
    const { credential, calls } = countingCredential(60 * 60_000, () => t);
    const cached = cachedCredential(credential, { now: () => t });
    const tokens = await Promise.all(Array.from({ length: 50 }, () => cached.getToken('https://graph/.default')));
    await cached.getToken('https://vault/.default');
    t += 30 * 60_000;
    await cached.getToken('https://graph/.default');
    expect(new Set(tokens.map((x) => x?.token))).toEqual(new Set(['t1']));
    expect(calls).toEqual(['https://graph/.default', 'https://vault/.default']);
  });

  it('asks again once the token is within the margin of its expiry, and after a failure', async () => {
    let t = 0;
    const { credential, calls } = countingCredential(60 * 60_000, () => t);
    const cached = cachedCredential(credential, { now: () => t, marginMs: 5 * 60_000 });
    await cached.getToken('s');
    t += 55 * 60_000;
    await cached.getToken('s');
    expect(calls).toHaveLength(2);

    let fail = true;
    const flaky = cachedCredential({
      getToken: async () => {
        if (fail) throw new Error('AADSTS7000215');
        return { token: 'ok', expiresOnTimestamp: t + 3_600_000 };
      },
    });
    await expect(flaky.getToken('s')).rejects.toThrow('AADSTS7000215');
    fail = false;
    expect((await flaky.getToken('s'))?.token).toBe('ok');
  });

  it('bypasses the cache for a claims challenge', async () => {
    const t = 0;
    const { credential, calls } = countingCredential(3_600_000, () => t);
    const cached = cachedCredential(credential, { now: () => t });
    await cached.getToken('s');
    await cached.getToken('s', { claims: '{"access_token":{}}' });
    expect(calls).toHaveLength(2);
    // Per tenant: the Key Vault challenge names one; concurrent callers for it share one request.
    await Promise.all([cached.getToken('s', { tenantId: 't1' }), cached.getToken('s', { tenantId: 't1' })]);
    expect(calls).toHaveLength(3);
  });
});

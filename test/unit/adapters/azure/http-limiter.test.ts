/**
 * The fetch-based adapters' requests under the shared limiter (http.ts `limit`): a 429 with Retry-After is waited out
 * on a fake clock and retried, the pause is shared by every request of the same Dataverse org / Power Platform
 * endpoint / Graph caller, and a throttle past the deadline reaches the caller as `throttled` with its retry-after.
 * `fetch` is a fake answering from a script; no network.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { httpJson, httpRequest } from '../../../../src/adapters/azure/http.js';
import { keysForRequest, ServiceLimiter, type LimiterClock } from '../../../../src/adapters/azure/limiter.js';
import { AdapterError } from '../../../../src/adapters/ports.js';

/** A clock whose sleeps resolve only when the test advances time. */
function fakeClock(start = 1_000_000) {
  let t = start;
  const timers: { at: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const clock: LimiterClock & { advance(ms: number): Promise<void> } = {
    now: () => t,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        const timer = { at: t + ms, resolve, reject };
        timers.push(timer);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    async advance(ms) {
      const end = t + ms;
      for (;;) {
        for (let i = 0; i < 50; i++) await Promise.resolve();
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        t = next.at;
        next.resolve();
      }
      t = end;
      for (let i = 0; i < 50; i++) await Promise.resolve();
    },
  };
  return clock;
}

interface Call {
  url: string;
  at: number;
}

/** A fake fetch: each URL's answers in order (the last repeats), every call recorded with the clock's time. */
function fakeFetch(
  clock: LimiterClock,
  script: Record<string, { status: number; headers?: Record<string, string> }[]>,
) {
  const calls: Call[] = [];
  const seen = new Map<string, number>();
  const fetch = vi.fn(async (input: string | URL | Request) => {
    const url = String(input);
    calls.push({ url, at: clock.now() });
    const answers = script[url] ?? [{ status: 200 }];
    const n = seen.get(url) ?? 0;
    seen.set(url, n + 1);
    const a = answers[Math.min(n, answers.length - 1)]!;
    return new Response(
      JSON.stringify(a.status < 300 ? { value: [url] } : { error: { code: 'TooMany', message: 'slow down' } }),
      {
        status: a.status,
        headers: { 'content-type': 'application/json', ...a.headers },
      },
    );
  });
  return { calls, fetch };
}

const DV = 'https://org1.crm.dynamics.com/api/data/v9.2/systemusers';
const DV2 = 'https://org1.crm.dynamics.com/api/data/v9.2/WhoAmI';
const OTHER_ORG = 'https://org2.crm.dynamics.com/api/data/v9.2/WhoAmI';
const PP = 'https://api.powerplatform.com/powerpages/environments/e1/websites?api-version=2024-10-01';

describe('keysForRequest for the fetch-based services', () => {
  it('names a Dataverse org, a Power Platform endpoint, and Graph under its caller', () => {
    expect(keysForRequest({ url: DV, method: 'GET' })).toEqual(['dataverse|org1.crm.dynamics.com']);
    expect(keysForRequest({ url: PP, method: 'GET' })).toEqual(['powerplatform|api.powerplatform.com']);
    expect(
      keysForRequest({
        url: 'https://api.powerplatform.com/environmentmanagement/environments?api-version=2022-03-01-preview',
        method: 'GET',
      }),
    ).toEqual(['powerplatform|api.powerplatform.com']);
    expect(
      keysForRequest({
        url: 'https://graph.microsoft.com/v1.0/applications',
        method: 'GET',
        caller: { appId: 'op', tenantId: 't1' },
      }),
    ).toEqual(['graph|graph.microsoft.com|t1|op']);
    // A caller given with a Dataverse or Power Platform URL does not move it onto Graph's budget.
    expect(keysForRequest({ url: DV, method: 'GET', caller: { appId: 'op', tenantId: 't1' } })).toEqual([
      'dataverse|org1.crm.dynamics.com',
    ]);
    expect(keysForRequest({ url: PP, method: 'GET', caller: { appId: 'op', tenantId: 't1' } })).toEqual([
      'powerplatform|api.powerplatform.com',
    ]);
  });
});

describe('httpRequest under the shared limiter', () => {
  let clock: ReturnType<typeof fakeClock>;
  let limiter: ServiceLimiter;
  beforeEach(() => {
    clock = fakeClock();
    limiter = new ServiceLimiter({ clock });
  });
  afterEach(() => vi.unstubAllGlobals());

  it('waits out a 429 Retry-After and retries, returning the success', async () => {
    const f = fakeFetch(clock, { [DV]: [{ status: 429, headers: { 'retry-after': '3' } }, { status: 200 }] });
    vi.stubGlobal('fetch', f.fetch);
    const res = httpJson(DV, { limit: { limiter } }, { operation: 'read systemusers' });
    await clock.advance(2_999);
    expect(f.calls).toHaveLength(1);
    await clock.advance(1);
    expect((await res).status).toBe(200);
    expect(f.calls.map((c) => c.at - f.calls[0]!.at)).toEqual([0, 3_000]);
    expect(limiter.stats()['dataverse|org1.crm.dynamics.com']).toMatchObject({ requests: 2, throttled: 1 });
  });

  it('pauses every request of the same org for the Retry-After, but not another org', async () => {
    const f = fakeFetch(clock, { [DV]: [{ status: 429, headers: { 'retry-after': '5' } }, { status: 200 }] });
    vi.stubGlobal('fetch', f.fetch);
    const first = httpJson(DV, { limit: { limiter } }, {});
    await clock.advance(10);
    const sameOrg = httpJson(DV2, { limit: { limiter } }, {});
    const otherOrg = httpJson(OTHER_ORG, { limit: { limiter } }, {});
    await clock.advance(10);
    // The other org answered at once; the same org's second request waits for the pause.
    expect(f.calls.map((c) => c.url)).toEqual([DV, OTHER_ORG]);
    await otherOrg;
    await clock.advance(5_000);
    await Promise.all([first, sameOrg]);
    const start = f.calls[0]!.at;
    expect(f.calls.filter((c) => c.url !== OTHER_ORG).map((c) => c.at - start)).toEqual([0, 5_000, 5_000]);
  });

  it('gives a throttle whose wait passes the deadline to the caller, as throttled with its retry-after', async () => {
    const f = fakeFetch(clock, { [PP]: [{ status: 429, headers: { 'retry-after': '120' } }] });
    vi.stubGlobal('fetch', f.fetch);
    const err = await httpJson(PP, { limit: { limiter, maxWaitMs: 60_000 } }, { operation: 'list websites' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).detail).toMatchObject({ code: 'throttled', retryable: true, retryAfterMs: 120_000 });
    expect(f.calls).toHaveLength(1);
  });

  it('backs off exponentially on a 429 without Retry-After', async () => {
    const f = fakeFetch(clock, { [DV]: [{ status: 429 }, { status: 429 }, { status: 200 }] });
    vi.stubGlobal('fetch', f.fetch);
    const res = httpRequest(DV, { limit: { limiter } }, {});
    await clock.advance(3_000);
    expect((await res).status).toBe(200);
    expect(f.calls.map((c) => c.at - f.calls[0]!.at)).toEqual([0, 1_000, 3_000]);
  });

  it("turns the caller's abort during a wait into `aborted`", async () => {
    const f = fakeFetch(clock, { [DV]: [{ status: 429, headers: { 'retry-after': '30' } }] });
    vi.stubGlobal('fetch', f.fetch);
    const ac = new AbortController();
    const res = httpRequest(DV, { limit: { limiter }, signal: ac.signal }, {}).catch((e: unknown) => e);
    await clock.advance(100);
    ac.abort(new Error('stop'));
    const err = await res;
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).detail.code).toBe('aborted');
    expect(f.calls).toHaveLength(1);
  });

  it('without a limiter, a 429 comes back at once (the old behaviour)', async () => {
    const f = fakeFetch(clock, { [DV]: [{ status: 429, headers: { 'retry-after': '3' } }, { status: 200 }] });
    vi.stubGlobal('fetch', f.fetch);
    expect((await httpRequest(DV, {}, {})).status).toBe(429);
    expect(f.calls).toHaveLength(1);
  });
});

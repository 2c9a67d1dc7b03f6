/**
 * One shared limiter per service instance (fleet-state.md §4–§7): every Graph, Key Vault and token-endpoint request
 * certrotate makes is admitted under the budgets of the keys it spends — a vault, Graph per calling app and tenant,
 * Graph writes per tenant, the token endpoint — so a fleet of targets shares one view of each service's limits.
 *
 * Per key: bounded concurrency (p-limit) and a token-bucket rate budget. A 429 (or a 503 with `Retry-After`) pauses
 * the key for everyone sharing it, for the time the service named (seconds or an HTTP-date) or an exponential
 * backoff when it named none; Graph's `x-ms-throttle-limit-percentage` (sent above 80 % of a budget) slows the key
 * down before the service throttles. A throttled request is retried here while its wait fits the request's deadline
 * (`maxWaitMs`, the caller's abort signal); past it the 429 goes to the caller, whose step waits durably with the
 * retry-after the error carries. Retrying a 429 is safe for any method: the service refused the request without
 * processing it (Key Vault does not even count failed 429s). A 503 is retried only for reads, since a write whose
 * 503 came late may have taken effect.
 *
 * API for callers outside the SDK pipelines (fleet runs, fetch): `limiter.run(keys, send, opts)`; keys come from
 * {@link keysForRequest}; {@link defaultLimiter} is the process's instance.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { retryAfterMsFrom } from './errors.js';

/** A budget one key spends. */
export interface Budget {
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests admitted per window (token bucket: a burst of `requests`, then `requests` per `windowMs`). */
  rate?: { requests: number; windowMs: number };
  /**
   * Also never more than `rate.requests` in any `rate.windowMs` (a sliding window). The token bucket alone lets up to
   * twice the budget through in one window (its burst, then its refill), which a service counting per window refuses.
   */
  slidingWindow?: boolean;
}

/** The clock the limiter waits on: the wall clock in production, a fake one in tests. */
export interface LimiterClock {
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What the limiter needs to know of a response. */
export interface ThrottleFacts {
  status: number;
  /** A reader of the response's headers (lower-case names). */
  header(name: string): string | undefined;
}

/** Options of one {@link ServiceLimiter.run}. */
export interface RunOptions<T> {
  /** The HTTP method (a 503 is retried only for GET/HEAD). */
  method?: string;
  signal?: AbortSignal;
  /** Longest total wait for this request before a throttle goes to the caller (default: the limiter's). */
  maxWaitMs?: number;
  /** The status and headers of a result. */
  facts(result: T): ThrottleFacts;
}

/** Counts per key, for tests, benchmarks and logs. */
export interface KeyStats {
  requests: number;
  throttled: number;
  peakInFlight: number;
}

/** Options of {@link ServiceLimiter}. */
export interface LimiterOptions {
  clock?: LimiterClock;
  /** The budget of a key (default {@link defaultBudgetFor}). */
  budgetFor?: (key: string) => Budget;
  /** Default longest wait per request, ms (default 60 000). */
  maxWaitMs?: number;
  /** First backoff when a throttle names no wait, ms (default 1 000; doubles per repeat up to 32 s). */
  backoffMs?: number;
}

/** Graph sends `x-ms-throttle-limit-percentage` from 0.8 up; the limiter slows from there. */
const SLOW_FROM = 0.8;

/**
 * Budgets modelled on the published limits (fleet-state.md §4, §5), divided into what one process should take:
 * Key Vault 4,000 transactions per vault per 10 s and certificate creates as key CREATE, 20 per 10 s; Graph
 * 3,500 RU per app+tenant per 10 s (a small tenant; reads cost 1–2 RU), writes 3,000 per app+tenant per 150 s and
 * 18,000 per tenant per 5 min. The token endpoint has no published workforce limit; it gets few requests anyway
 * (tokens are cached), so only concurrency bounds it. Dataverse's service protection limits are per user per web
 * server: 6,000 requests per 5 min and 52 at once (32 taken here, leaving room for other clients of the same user).
 * The Power Platform API publishes no per-endpoint figure: concurrency bounds it, and its 429s pace it.
 */
export function defaultBudgetFor(key: string): Budget {
  const kind = key.split('|')[0];
  switch (kind) {
    case 'keyvault':
      return { concurrency: 32, rate: { requests: 4000, windowMs: 10_000 } };
    case 'keyvault-create':
      return { concurrency: 20, rate: { requests: 20, windowMs: 10_000 }, slidingWindow: true };
    case 'graph':
      return { concurrency: 32, rate: { requests: 1750, windowMs: 10_000 } };
    case 'graph-write-app':
      return { concurrency: 32, rate: { requests: 3000, windowMs: 150_000 } };
    case 'graph-write-tenant':
      return { concurrency: 64, rate: { requests: 18_000, windowMs: 300_000 } };
    case 'token':
      return { concurrency: 8 };
    case 'dataverse':
      return { concurrency: 32, rate: { requests: 6000, windowMs: 300_000 } };
    case 'powerplatform':
      return { concurrency: 16 };
    default:
      return { concurrency: 16 };
  }
}

/**
 * `scan --concurrency` default: as many targets in flight as the narrowest read budget keeps busy (Graph and a vault
 * each admit 32 requests at once), so reads never queue on a budget and never exceed one.
 */
export const DEFAULT_READ_CONCURRENCY = 32;

/** The wall clock; sleeps are plain (ref'd: a CLI waiting out a Retry-After must not exit) timers an abort cancels. */
export const systemLimiterClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Keys of budgets that only some requests of a service spend, beside the service's own key (a certificate create
 * beside its vault's, a Graph write beside the app's reads). A throttle of such a request pauses these keys only.
 */
const NARROW_KINDS = new Set(['keyvault-create', 'graph-write-app', 'graph-write-tenant']);

/** What a request that found its budget spent once it held its slots returns to {@link ServiceLimiter}'s loop. */
const WAIT_AGAIN: unique symbol = Symbol('wait again');

/** Past a sliding window's edge, this much more (ms, at most 1 % of it): requests arrive with uneven latency. */
const WINDOW_MARGIN_MS = 100;

class KeyState {
  readonly limit: LimitFunction;
  readonly narrow: boolean;
  /** Admission times of the sliding window (`slidingWindow` budgets), oldest first from `#head`. */
  readonly #admitted: number[] = [];
  #head = 0;
  tokens: number;
  refilledAt: number;
  pausedUntil = 0;
  /** Consecutive throttles without a named wait (exponential backoff). */
  backoffs = 0;
  /** The last `x-ms-throttle-limit-percentage`, 0 when the service sent none. */
  load = 0;
  inFlight = 0;
  readonly stats: KeyStats = { requests: 0, throttled: 0, peakInFlight: 0 };

  constructor(
    key: string,
    readonly budget: Budget,
    now: number,
  ) {
    this.narrow = NARROW_KINDS.has(key.split('|')[0]!);
    this.limit = pLimit(budget.concurrency);
    this.tokens = budget.rate?.requests ?? 0;
    this.refilledAt = now;
  }

  /** Requests per ms the key admits now: the budget's, scaled down as the service reports its load rising. */
  rate(): number | undefined {
    const r = this.budget.rate;
    if (!r) return undefined;
    const base = r.requests / r.windowMs;
    if (this.load < SLOW_FROM) return base;
    // 0.8 → full rate, 0.9 → half, ≥ 0.98 → a tenth: slow before the service starts refusing.
    return base * Math.max(0.1, (1 - this.load) / (1 - SLOW_FROM));
  }

  /** Ms until one token is there (0 = take it now); refills first. */
  waitForToken(now: number): number {
    const rate = this.rate();
    const cap = this.budget.rate?.requests;
    if (rate === undefined || cap === undefined) return 0;
    this.tokens = Math.min(cap, this.tokens + (now - this.refilledAt) * rate);
    this.refilledAt = now;
    // Under load, no bursts: one request per interval, whatever the bucket holds.
    if (this.load >= SLOW_FROM) this.tokens = Math.min(this.tokens, 1);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / rate);
  }

  /** Ms until the sliding window has room for one more (0 = now); budgets without `slidingWindow` never wait here. */
  waitForWindow(now: number): number {
    const r = this.budget.rate;
    if (!r || !this.budget.slidingWindow) return 0;
    const edge = now - r.windowMs - Math.min(WINDOW_MARGIN_MS, r.windowMs / 100);
    while (this.#head < this.#admitted.length && this.#admitted[this.#head]! <= edge) this.#head++;
    if (this.#head > 1024) {
      // Drop what left the window now and then, so the log stays about one window long.
      this.#admitted.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#admitted.length - this.#head < r.requests) return 0;
    return Math.max(1, this.#admitted[this.#head]! - edge);
  }

  /** Spends one admission. */
  admitted(now: number): void {
    if (this.budget.rate) this.tokens -= 1;
    if (this.budget.slidingWindow) this.#admitted.push(now);
  }
}

/** The limiter; see the module comment. */
export class ServiceLimiter {
  readonly #keys = new Map<string, KeyState>();
  readonly #clock: LimiterClock;
  readonly #budgetFor: (key: string) => Budget;
  readonly #maxWaitMs: number;
  readonly #backoffMs: number;

  constructor(opts: LimiterOptions = {}) {
    this.#clock = opts.clock ?? systemLimiterClock;
    this.#budgetFor = opts.budgetFor ?? defaultBudgetFor;
    this.#maxWaitMs = opts.maxWaitMs ?? 60_000;
    this.#backoffMs = opts.backoffMs ?? 1000;
  }

  #state(key: string): KeyState {
    let s = this.#keys.get(key);
    if (!s) {
      s = new KeyState(key, this.#budgetFor(key), this.#clock.now());
      this.#keys.set(key, s);
    }
    return s;
  }

  /**
   * Sends once per attempt under every key's budget (slots taken in key order, so two requests never wait on each
   * other's slots), and retries throttles while the wait fits the request's deadline. Returns the last result, which
   * is a throttle only when its wait would pass the deadline.
   */
  async run<T>(keys: readonly string[], send: () => Promise<T>, opts: RunOptions<T>): Promise<T> {
    const states = [...new Set(keys)].sort().map((k) => this.#state(k));
    const deadline = this.#clock.now() + (opts.maxWaitMs ?? this.#maxWaitMs);
    for (;;) {
      const result = await this.#admit(states, send, deadline, opts.signal);
      const facts = opts.facts(result);
      const load = Number(facts.header('x-ms-throttle-limit-percentage'));
      for (const s of states) s.load = Number.isFinite(load) && load > 0 ? load : 0;
      const wait = this.#throttle(states, facts, opts.method);
      if (wait === undefined) {
        for (const s of states) s.backoffs = 0;
        return result;
      }
      if (this.#clock.now() + wait > deadline || opts.signal?.aborted) return result;
      // The pause is already on the keys: the next attempt waits it out in #admit, with everyone else.
    }
  }

  /** Ms to wait after a throttle (and the keys paused for it), or undefined when `facts` is no throttle. */
  #throttle(states: KeyState[], facts: ThrottleFacts, method = 'GET'): number | undefined {
    const read = ['GET', 'HEAD'].includes(method.toUpperCase());
    if (facts.status !== 429 && !(facts.status === 503 && read)) return undefined;
    const named = retryAfterMsFrom({ get: (n: string) => facts.header(n.toLowerCase()) ?? null }, this.#clock.now());
    if (facts.status === 503 && named === undefined) return undefined;
    const backoffs = Math.max(...states.map((s) => s.backoffs));
    const wait = named ?? Math.min(32_000, this.#backoffMs * 2 ** backoffs);
    const until = this.#clock.now() + wait;
    // A request spending a narrow budget beside its service's (a certificate create, a Graph write) was most likely
    // refused by the narrow one: pausing only that keeps a create's 429 from stalling every read of the vault. Were
    // the service's own budget spent, the next read would meet its own 429 and pause it.
    const paused = states.some((s) => s.narrow) ? states.filter((s) => s.narrow) : states;
    for (const s of paused) {
      s.stats.throttled++;
      if (named === undefined) s.backoffs++;
      s.pausedUntil = Math.max(s.pausedUntil, until);
    }
    return wait;
  }

  /**
   * Ms `states` make a request wait now (0 = it may go): a pause, else the slowest rate or window. A pause that
   * outlasts the request's deadline is not waited for: the request goes out and the service's answer (a 429 with its
   * Retry-After, most likely) reaches the caller at once, whose step then waits durably.
   */
  #waitMs(states: KeyState[], deadline: number): number {
    const now = this.#clock.now();
    const paused = Math.max(...states.map((s) => s.pausedUntil)) - now;
    const wait =
      paused > 0 ? paused : Math.max(...states.map((s) => Math.max(s.waitForToken(now), s.waitForWindow(now))));
    return wait <= 0 || (paused > 0 && now + wait > deadline) ? 0 : wait;
  }

  /** Runs `fn` holding a concurrency slot of every key, taken in key order. */
  #holdingSlots<R>(states: KeyState[], i: number, fn: () => Promise<R>): Promise<R> {
    return i < states.length ? states[i]!.limit(() => this.#holdingSlots(states, i + 1, fn)) : fn();
  }

  async #admit<T>(states: KeyState[], send: () => Promise<T>, deadline: number, signal?: AbortSignal): Promise<T> {
    for (;;) {
      // Pauses and rates are waited out holding no slot, so a request waiting on one key's budget (a create on the
      // vault's create window) never keeps another key's slots (the vault's) from requests that could go (its reads).
      for (let wait = this.#waitMs(states, deadline); wait > 0; wait = this.#waitMs(states, deadline)) {
        await this.#clock.sleep(wait, signal);
      }
      const result = await this.#holdingSlots(states, 0, async (): Promise<T | typeof WAIT_AGAIN> => {
        // Others may have spent the budget or paused a key while this request queued for its slots: wait again.
        if (this.#waitMs(states, deadline) > 0) return WAIT_AGAIN;
        const admittedAt = this.#clock.now();
        for (const s of states) {
          s.admitted(admittedAt);
          s.stats.requests++;
          s.inFlight++;
          s.stats.peakInFlight = Math.max(s.stats.peakInFlight, s.inFlight);
        }
        try {
          return await send();
        } finally {
          for (const s of states) s.inFlight--;
        }
      });
      if (result !== WAIT_AGAIN) return result;
    }
  }

  /** Counts per key so far. */
  stats(): Record<string, KeyStats> {
    return Object.fromEntries([...this.#keys].map(([k, s]) => [k, { ...s.stats }]));
  }
}

/** What a request is, for choosing its keys. */
export interface RequestIdentity {
  url: string;
  method: string;
  /** Graph: the calling app (client id) and tenant. */
  caller?: { appId: string; tenantId: string };
}

/**
 * The keys a request spends: a Key Vault request its vault (and the vault's create budget for a certificate create);
 * a Graph request its app+tenant budget, and a write also the write budgets per app+tenant and per tenant; a token
 * request its authority host; a Dataverse Web API request its org (`/api/data/…` on the org's host); a Power
 * Platform API request its endpoint (`/powerpages/…`, `/environmentmanagement/…`). Anything else: its host.
 */
export function keysForRequest(r: RequestIdentity): string[] {
  const url = new URL(r.url);
  const method = r.method.toUpperCase();
  const path = url.pathname;
  if (/\/oauth2\/(v2\.0\/)?token$/.test(path) || path.endsWith('/.well-known/openid-configuration')) {
    return [`token|${url.host}`];
  }
  // Dataverse and the Power Platform API have their own budgets whoever calls: a caller (meant for Graph) given with
  // one of their URLs must not move it onto Graph's.
  if (path.startsWith('/api/data/')) return [`dataverse|${url.host}`];
  if (/^\/(powerpages|environmentmanagement)\//.test(path)) return [`powerplatform|${url.host}`];
  if (r.caller) {
    const { appId, tenantId } = r.caller;
    const keys = [`graph|${url.host}|${tenantId}|${appId}`];
    if (method !== 'GET' && method !== 'HEAD') {
      keys.push(`graph-write-app|${url.host}|${tenantId}|${appId}`, `graph-write-tenant|${url.host}|${tenantId}`);
    }
    return keys;
  }
  if (/^\/(certificates|secrets|keys|deletedcertificates|deletedsecrets)(\/|$)/.test(path)) {
    const keys = [`keyvault|${url.host}`];
    if (method === 'POST' && /^\/certificates\/[^/]+\/create$/.test(path)) keys.push(`keyvault-create|${url.host}`);
    return keys;
  }
  return [`host|${url.host}`];
}

/** The process's limiter: one per process, so every client and every target shares it. */
export const defaultLimiter = new ServiceLimiter();

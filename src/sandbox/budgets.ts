/**
 * The sandbox's service budgets (fleet-state.md §4, §5), one sliding window per budget and key, on the sandbox clock.
 * Every budget counts what it accepted and what it refused, and the most it ever held in one window, so tests and
 * benchmarks can read `GET /budgets` on the admin API and assert a run never exceeded a budget (and how often it
 * was told to wait).
 */

/** A budget: at most `limit` requests per key in any `windowMs`. */
export interface BudgetSpec {
  limit: number;
  windowMs: number;
}

/** One budget's counts, as `GET /budgets` reports them. */
export interface BudgetReport {
  name: string;
  limit: number;
  windowSeconds: number;
  keys: Record<string, { accepted: number; throttled: number; peakInWindow: number }>;
}

/** A refusal: when to retry, and how full the window is (≥ 1). */
export interface Refusal {
  retryAfterSeconds: number;
  load: number;
}

/** One budget over many keys (a vault, an app+tenant, a tenant). */
export class BudgetMeter {
  readonly #log = new Map<string, number[]>();
  readonly #counts = new Map<string, { accepted: number; throttled: number; peakInWindow: number }>();

  constructor(
    readonly name: string,
    private readonly now: () => number,
    readonly spec: BudgetSpec | undefined,
  ) {}

  #recent(key: string, now: number): number[] {
    const windowMs = this.spec?.windowMs ?? 0;
    const recent = (this.#log.get(key) ?? []).filter((t) => t > now - windowMs);
    this.#log.set(key, recent);
    return recent;
  }

  #count(key: string) {
    let c = this.#counts.get(key);
    if (!c) this.#counts.set(key, (c = { accepted: 0, throttled: 0, peakInWindow: 0 }));
    return c;
  }

  /** Whether one more request for `key` fits; a refusal is counted, an admission is not yet (see {@link take}). */
  check(key: string): Refusal | undefined {
    const spec = this.spec;
    if (!spec || spec.limit <= 0) return undefined;
    const now = this.now();
    const recent = this.#recent(key, now);
    if (recent.length < spec.limit) return undefined;
    this.#count(key).throttled++;
    const retryAfterSeconds = Math.max(1, Math.ceil(((recent[0] ?? now) + spec.windowMs - now) / 1000));
    return { retryAfterSeconds, load: recent.length / spec.limit };
  }

  /** Records one admitted request for `key`. */
  take(key: string): void {
    const c = this.#count(key);
    c.accepted++;
    if (!this.spec || this.spec.limit <= 0) return;
    const now = this.now();
    const recent = this.#recent(key, now);
    recent.push(now);
    c.peakInWindow = Math.max(c.peakInWindow, recent.length);
  }

  /** How full `key`'s window is, 0..1 (0 without a limit). */
  load(key: string): number {
    if (!this.spec || this.spec.limit <= 0) return 0;
    return this.#recent(key, this.now()).length / this.spec.limit;
  }

  report(): BudgetReport {
    return {
      name: this.name,
      limit: this.spec?.limit ?? 0,
      windowSeconds: (this.spec?.windowMs ?? 0) / 1000,
      keys: Object.fromEntries([...this.#counts].map(([k, c]) => [k, { ...c }])),
    };
  }
}

/** Every budget of one sandbox, for the admin API. */
export class BudgetRegistry {
  readonly #meters: BudgetMeter[] = [];

  constructor(private readonly now: () => number) {}

  /**
   * The budget named `name` (e.g. `keyvault.certificateCreates`), listed in {@link report}; every service instance
   * asking for one name shares it (its keys are the instances: each vault its own window).
   */
  meter(name: string, spec: BudgetSpec | undefined): BudgetMeter {
    const existing = this.#meters.find((m) => m.name === name);
    if (existing) return existing;
    const m = new BudgetMeter(name, this.now, spec);
    this.#meters.push(m);
    return m;
  }

  /** `GET /budgets`: each budget with its counts per key. */
  report(): BudgetReport[] {
    return this.#meters.map((m) => m.report());
  }
}

/** Tokens issued per identity (client id) and resource: `GET /tokens`, so a test can assert a scan asked once each. */
export class TokenCounter {
  readonly #counts = new Map<string, number>();

  record(appId: string, resource: string): void {
    const key = `${appId} ${resource}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  report(): { appId: string; resource: string; count: number }[] {
    return [...this.#counts].map(([k, count]) => {
      const [appId = '', resource = ''] = k.split(' ');
      return { appId, resource, count };
    });
  }
}

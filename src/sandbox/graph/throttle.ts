/**
 * Graph's write throttling for applications (fleet-state.md §4): writes per caller app and tenant in a sliding
 * window (Entra: 3,000 per 150 s) and per tenant over all apps (18,000 per 5 min), then 429 with Retry-After and the
 * `x-ms-throttle-*` headers Graph sends. {@link WriteBudget.load} feeds `x-ms-throttle-limit-percentage`, which
 * Graph sends once a caller has used 80 % of a budget.
 */
import type { AccessTokenClaims } from '../access-tokens.js';
import { BudgetMeter, type BudgetRegistry } from '../budgets.js';
import { GraphHttpError } from './errors.js';

/** A budget as the options give it. */
export interface WriteWindow {
  writes: number;
  windowSeconds: number;
}

export class WriteBudget {
  readonly #app: BudgetMeter;
  readonly #tenant: BudgetMeter;

  constructor(
    now: () => number,
    private readonly tenantId: string,
    budget: WriteWindow | undefined,
    opts: { tenantBudget?: WriteWindow; registry?: BudgetRegistry } = {},
  ) {
    const spec = (w: WriteWindow | undefined) =>
      w && w.writes > 0 ? { limit: w.writes, windowMs: w.windowSeconds * 1000 } : undefined;
    const meter = (name: string, w: WriteWindow | undefined) =>
      opts.registry ? opts.registry.meter(name, spec(w)) : new BudgetMeter(name, now, spec(w));
    this.#app = meter('graph.writes.appTenant', budget);
    this.#tenant = meter('graph.writes.tenant', opts.tenantBudget);
  }

  /** Counts one write by the caller, or throws the 429 when a window is full (the write is not counted then). */
  charge(caller: AccessTokenClaims): void {
    const appKey = `${caller.appid}/${this.tenantId}`;
    const checks = [
      { meter: this.#app, key: appKey, scope: `Tenant_Application/ReadWrite/${caller.appid}/${this.tenantId}` },
      { meter: this.#tenant, key: this.tenantId, scope: `Tenant/ReadWrite/${this.tenantId}` },
    ];
    for (const c of checks) {
      const refusal = c.meter.check(c.key);
      if (!refusal) continue;
      throw new GraphHttpError(
        429,
        'Request_ThrottledTemporarily',
        `Your request is throttled temporarily. Please try after ${refusal.retryAfterSeconds} seconds.`,
        {
          'retry-after': String(refusal.retryAfterSeconds),
          'x-ms-throttle-scope': c.scope,
          'x-ms-throttle-information': 'WriteLimitExceeded',
          'x-ms-throttle-limit-percentage': refusal.load.toFixed(2),
        },
      );
    }
    for (const c of checks) c.meter.take(c.key);
  }

  /** How much of its tightest write budget `appId` has used, 0..1. */
  load(appId: string): number {
    return Math.max(this.#app.load(`${appId}/${this.tenantId}`), this.#tenant.load(this.tenantId));
  }
}

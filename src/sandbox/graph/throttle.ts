/**
 * Graph's write throttling for applications: a budget of writes per caller app and tenant in a sliding window,
 * then 429 with Retry-After and the `x-ms-throttle-*` headers Graph sends (Entra's limit is 3000 per 150 s).
 */
import type { AccessTokenClaims } from '../access-tokens.js';
import { GraphHttpError } from './errors.js';

export class WriteBudget {
  private readonly log = new Map<string, number[]>();

  constructor(
    private readonly now: () => number,
    private readonly tenantId: string,
    private readonly budget: { writes: number; windowSeconds: number } | undefined,
  ) {}

  /** Counts one write by the caller, or throws the 429 when the window is full (the write is not counted then). */
  charge(caller: AccessTokenClaims): void {
    const budget = this.budget;
    if (!budget || budget.writes <= 0) return;
    const key = `${caller.appid}/${this.tenantId}`;
    const now = this.now();
    const windowMs = budget.windowSeconds * 1000;
    const recent = (this.log.get(key) ?? []).filter((t) => t > now - windowMs);
    if (recent.length >= budget.writes) {
      this.log.set(key, recent);
      const retryAfter = Math.max(1, Math.ceil(((recent[0] ?? now) + windowMs - now) / 1000));
      throw new GraphHttpError(
        429,
        'Request_ThrottledTemporarily',
        `Your request is throttled temporarily. Please try after ${retryAfter} seconds.`,
        {
          'retry-after': String(retryAfter),
          'x-ms-throttle-scope': `Tenant_Application/ReadWrite/${caller.appid}/${this.tenantId}`,
          'x-ms-throttle-information': 'WriteLimitExceeded',
        },
      );
    }
    recent.push(now);
    this.log.set(key, recent);
  }
}

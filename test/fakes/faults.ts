import type { PortError } from '../../src/adapters/ports.js';

/**
 * One fault rule. `call` names a port method (`apps.addKey`, `certificates.beginCreate`, `server.install`, …) or
 * `*` for every call.
 * - `fail`: throw before the side effect (the call did nothing), e.g. 429 with retry-after, 503;
 * - `failAfter`: do the side effect, then throw (a timeout whose effect the caller cannot know);
 * - `crashAfter`: do the side effect, then "kill the process": every later call of this world throws until
 *   `revive()`, and `onCrash` fires so the test stops the driver before another snapshot is written.
 */
export interface FaultRule {
  call: string;
  mode: 'fail' | 'failAfter' | 'crashAfter';
  /** How many times the rule fires (default 1). */
  times?: number;
  /** Matching calls to let through before the rule fires (default 0). */
  skip?: number;
  error?: Partial<PortError>;
}

export const UNAVAILABLE: PortError = { code: 'unavailable', message: 'HTTP 503', retryable: true, status: 503 };
export const TIMEOUT: PortError = { code: 'timeout', message: 'no answer in time', retryable: true };
export const CRASH: PortError = { code: 'crashed', message: 'the process died', retryable: false };

export function throttled(retryAfterMs: number): Partial<PortError> {
  return { code: 'throttled', message: 'HTTP 429', retryable: true, status: 429, retryAfterMs };
}

/** Holds fault rules and decides, per call, what to inject. */
export class FaultInjector {
  private rules: (FaultRule & { fired: number; seen: number })[] = [];

  add(...rules: FaultRule[]): void {
    for (const rule of rules) this.rules.push({ ...rule, fired: 0, seen: 0 });
  }

  clear(): void {
    this.rules = [];
  }

  /** The rule that fires for this call, if any (consumes it). */
  take(call: string, mode: FaultRule['mode']): FaultRule | undefined {
    for (const rule of this.rules) {
      if (rule.mode !== mode || (rule.call !== '*' && rule.call !== call)) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.skip ?? 0)) continue;
      if (rule.fired >= (rule.times ?? 1)) continue;
      rule.fired += 1;
      return rule;
    }
    return undefined;
  }

  /** True when every rule has fired as often as it was meant to. */
  exhausted(): boolean {
    return this.rules.every((r) => r.fired >= (r.times ?? 1));
  }
}

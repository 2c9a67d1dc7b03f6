/**
 * Key Vault's throttling, per vault, in sliding 10-second windows on the sandbox clock (fleet-state.md §5): writes
 * (a generic budget, off by default) and certificate creates (the key CREATE row: 20 per vault per 10 s in Azure,
 * off by default). A request past a budget is refused with 429 and a `Retry-After` naming when the oldest request
 * leaves the window. Refused requests do not count (current Azure docs).
 */
import { BudgetMeter, type BudgetRegistry } from '../budgets.js';
import { KeyVaultError } from './errors.js';

const WINDOW_MS = 10_000;

export class WriteBudget {
  readonly #writes: BudgetMeter;
  readonly #creates: BudgetMeter;

  /**
   * @param budget writes per 10 s; 0 or undefined disables it.
   * @param createsPer10s certificate creates per 10 s; 0 or undefined disables it.
   */
  constructor(
    now: () => number,
    budget: number | undefined,
    opts: { createsPer10s?: number; registry?: BudgetRegistry; vault?: string } = {},
  ) {
    const spec = (limit: number | undefined) => (limit ? { limit, windowMs: WINDOW_MS } : undefined);
    const meter = (name: string, limit: number | undefined) =>
      opts.registry ? opts.registry.meter(name, spec(limit)) : new BudgetMeter(name, now, spec(limit));
    this.#writes = meter('keyvault.writes', budget);
    this.#creates = meter('keyvault.certificateCreates', opts.createsPer10s);
    this.vault = opts.vault ?? 'vault';
  }

  private readonly vault: string;

  /** Records one write (`operation` e.g. `certificates/create`), or throws the 429 Key Vault answers with. */
  take(operation?: string): void {
    const meters = operation === 'certificates/create' ? [this.#writes, this.#creates] : [this.#writes];
    for (const m of meters) {
      const refusal = m.check(this.vault);
      if (refusal) {
        throw new KeyVaultError(
          429,
          'Throttled',
          'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
          undefined,
          { 'retry-after': String(refusal.retryAfterSeconds) },
        );
      }
    }
    for (const m of meters) m.take(this.vault);
  }
}

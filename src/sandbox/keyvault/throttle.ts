/**
 * Key Vault's throttling, scaled down: a sliding 10-second window of accepted writes on the sandbox clock. A write past
 * the budget is refused with 429 and a `Retry-After` naming when the oldest write leaves the window, which is what
 * lets the SDK's retry policy wait exactly long enough. Refused writes do not count (current Azure docs).
 */
import { KeyVaultError } from './errors.js';

const WINDOW_MS = 10_000;

export class WriteBudget {
  readonly #accepted: number[] = [];

  /** @param budget writes per 10 s; 0 or undefined disables throttling. */
  constructor(
    private readonly now: () => number,
    private readonly budget: number | undefined,
  ) {}

  /** Records one write, or throws the 429 Key Vault answers with when the window is full. */
  take(): void {
    if (!this.budget) return;
    const now = this.now();
    while (this.#accepted.length > 0 && this.#accepted[0]! <= now - WINDOW_MS) this.#accepted.shift();
    if (this.#accepted.length >= this.budget) {
      const retryAfter = Math.max(1, Math.ceil((this.#accepted[0]! + WINDOW_MS - now) / 1000));
      throw new KeyVaultError(
        429,
        'Throttled',
        'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
        undefined,
        { 'retry-after': String(retryAfter) },
      );
    }
    this.#accepted.push(now);
  }
}

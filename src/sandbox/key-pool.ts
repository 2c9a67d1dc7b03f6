/**
 * A pool of pre-generated RSA key pairs. RSA generation costs tens of milliseconds of CPU; keeping a few ready
 * keeps it off the request path (certificate creates, Update key) and out of benchmarks.
 */
import { webcrypto } from 'node:crypto';

/** Algorithm every pooled key is generated for: Key Vault and the sandbox sign with RSASSA-PKCS1-v1_5 SHA-256. */
export const poolKeyAlgorithm = {
  name: 'RSASSA-PKCS1-v1_5',
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

export interface KeyPool {
  /** Resolves at once when a key of that size is pooled, else waits for one generation. Triggers a refill. */
  takeKeyPair(modulusLength: number): Promise<CryptoKeyPair>;
  /** Resolves when the pool for `modulusLength` holds at least `count` keys (used at start-up). */
  fill(modulusLength: number, count: number): Promise<void>;
  /** Keys ready now, per modulus length. */
  size(modulusLength: number): number;
  /** Stops background refills. */
  close(): void;
}

export interface KeyPoolOptions {
  /** Keys kept ready per modulus length (default 4). */
  target?: number;
}

function generate(modulusLength: number): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ ...poolKeyAlgorithm, modulusLength }, true, [
    'sign',
    'verify',
  ]) as Promise<CryptoKeyPair>;
}

/** Creates a key pool; keys are generated on libuv's thread pool, so refills do not block the event loop. */
export function createKeyPool(opts: KeyPoolOptions = {}): KeyPool {
  const target = opts.target ?? 4;
  const ready = new Map<number, CryptoKeyPair[]>();
  const inFlight = new Map<number, Set<Promise<void>>>();
  let closed = false;

  const list = (n: number): CryptoKeyPair[] => {
    let l = ready.get(n);
    if (!l) ready.set(n, (l = []));
    return l;
  };
  const running = (n: number): Set<Promise<void>> => {
    let s = inFlight.get(n);
    if (!s) inFlight.set(n, (s = new Set()));
    return s;
  };

  function refill(n: number, want: number): void {
    const busy = running(n);
    while (!closed && list(n).length + busy.size < want) {
      const p: Promise<void> = generate(n)
        .then((kp) => {
          if (!closed) list(n).push(kp);
        })
        // A failed generation only leaves the pool short; the next take refills it.
        .catch(() => undefined)
        .finally(() => busy.delete(p));
      busy.add(p);
    }
  }

  return {
    async takeKeyPair(modulusLength) {
      if (modulusLength < 2048) throw new Error(`RSA keys must be at least 2048 bits (asked for ${modulusLength})`);
      const kp = list(modulusLength).shift();
      refill(modulusLength, target);
      return kp ?? generate(modulusLength);
    },
    async fill(modulusLength, count) {
      while (list(modulusLength).length < count && !closed) {
        refill(modulusLength, count);
        await Promise.race(running(modulusLength));
      }
    },
    size: (n) => list(n).length,
    close() {
      closed = true;
    },
  };
}

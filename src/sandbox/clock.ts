/**
 * The sandbox clock. Services judge key validity, propagation and token lifetimes against it, so tests can move
 * time forward (e.g. past a key's end date) without sleeping.
 */
export interface SandboxClock {
  /** Milliseconds since the epoch, as the sandbox sees them. */
  now(): number;
  /** Moves the sandbox clock forward (or back, with a negative value). */
  advance(ms: number): void;
}

/** A clock that follows wall time plus an offset that `advance` changes. */
export function createSandboxClock(): SandboxClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
    },
  };
}

/** ISO-8601 UTC with milliseconds, as every sandbox timestamp is written. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

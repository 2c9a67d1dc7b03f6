/**
 * What the step activities share: the default waits, the per-call context the driver gives them, and helpers over
 * the rotation's ports (src/adapters/rotation-ports.ts).
 */
import type { AppRegistry, ServerKeyTarget } from '../../adapters/ports.js';
import { AdapterError, type PortError } from '../../adapters/ports.js';
import type { RotationPorts, StepTiming } from '../../adapters/rotation-ports.js';

/** The waits of {@link StepTiming} outside tests. */
export const DEFAULT_STEP_TIMING: StepTiming = {
  createPollMs: 2_000,
  createTimeoutMs: 10 * 60_000,
  readSettleMs: 2 * 60_000,
  readPollMs: 10_000,
  siteHealthyChecks: 3,
  siteCheckMs: 5_000,
};

/** What the driver passes each step besides its input. */
export interface StepContext {
  signal: AbortSignal;
  /**
   * True when an earlier attempt of this step may have acted without the result being recorded (a retry, or the
   * first run after a restore): the step must not trust a single lagging read.
   */
  rerun: boolean;
  /** Why the previous attempt of this step failed, when it did (a retry): it may prove that attempt wrote nothing. */
  previousError?: PortError;
  /** The step is about to wait inside itself (not a retry): what for and until when (epoch ms), for the operator. */
  onWaiting?: (wait: { for: string; until: number }) => void;
}

/** What the read-settle wait is for, in the operator's words. */
export const READ_LAG_WAIT = "Graph's read-lag window before trusting that the key is absent";

/**
 * True when a failed attempt provably changed nothing: the service refused the request before acting (a 4xx other
 * than 408 timeout and 429 throttling, which may follow a write), or the request never left this machine
 * (connection refused, DNS failure). Then a read after it need not wait out the read-lag window.
 */
export function provablyNotWritten(error: PortError | undefined): boolean {
  if (!error) return false;
  if (error.notSent) return true;
  const s = error.status;
  return s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 429;
}

/** The step waits of `ports`, defaults filled in. */
export function timingOf(ports: RotationPorts): StepTiming {
  return { ...DEFAULT_STEP_TIMING, ...ports.timing };
}

/** The server port of a keyvault target; a step that needs it on a target without one is a bug, not a retry. */
export function requireServer(ports: RotationPorts): ServerKeyTarget {
  if (!ports.server) {
    throw new AdapterError({ code: 'invalidRequest', message: 'this target has no server port', retryable: false });
  }
  return ports.server;
}

/** Thumbprints compare case-insensitively (Graph and Key Vault differ in case). */
export function sameThumbprint(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toUpperCase() === b.toUpperCase();
}

/**
 * Reads the app until `found` holds or the read-lag window passes. Returns the last read's match. Used before a
 * write whose earlier attempt may already have happened, so a lagging read does not cause a second write.
 */
export async function readUntilSettled<T>(
  ports: RotationPorts,
  appId: string,
  find: (app: Awaited<ReturnType<AppRegistry['getApp']>>) => T | undefined,
  step: StepContext,
): Promise<T | undefined> {
  const timing = timingOf(ports);
  const deadline = ports.clock.now() + timing.readSettleMs;
  // The previous attempt was refused before it wrote: one read is the truth, there is no write to wait for.
  const settle = step.rerun && !provablyNotWritten(step.previousError);
  let told = false;
  for (;;) {
    const found = find(await ports.apps.getApp(appId, { signal: step.signal }));
    if (found !== undefined || !settle || ports.clock.now() >= deadline) return found;
    if (!told) {
      told = true;
      step.onWaiting?.({ for: READ_LAG_WAIT, until: deadline });
    }
    await ports.clock.sleep(Math.min(timing.readPollMs, Math.max(1, deadline - ports.clock.now())), step.signal);
  }
}

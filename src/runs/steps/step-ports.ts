/**
 * What the step activities share: the default waits, the per-call context the driver gives them, and helpers over
 * the rotation's ports (src/adapters/rotation-ports.ts).
 */
import type { AppRegistry, ServerKeyTarget } from '../../adapters/ports.js';
import { AdapterError } from '../../adapters/ports.js';
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
  for (;;) {
    const found = find(await ports.apps.getApp(appId, { signal: step.signal }));
    if (found !== undefined || !step.rerun || ports.clock.now() >= deadline) return found;
    await ports.clock.sleep(Math.min(timing.readPollMs, Math.max(1, deadline - ports.clock.now())), step.signal);
  }
}

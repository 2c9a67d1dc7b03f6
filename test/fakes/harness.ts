/**
 * Test harness: a run's input for the fake world, and a driver wrapper that keeps what a runner would persist
 * (the last snapshot, the journal) and can "kill the process" when a crash fault fires.
 */
import type { JournalEntry } from '../../src/adapters/ports.js';
import type { RotationInput } from '../../src/machines/rotation-types.js';
import { driveRotation, type DriveOptions, type RotationResult } from '../../src/runs/driver.js';
import type { StepTiming } from '../../src/adapters/rotation-ports.js';
import { APP_ID, CERTIFICATE, DATAVERSE, type FakeWorld } from './world.js';

const DAY = 86_400_000;

export function rotationInput(overrides: Partial<RotationInput> = {}): RotationInput {
  return {
    runId: 'run-0001',
    target: 'contoso-api',
    kind: 'keyvault',
    appId: APP_ID,
    keyVault: {
      certificate: CERTIFICATE,
      policy: {
        subject: 'CN=contoso-s2s',
        validityMonths: 24,
        keyType: 'RSA',
        keySize: 2048,
        contentType: 'application/x-pem-file',
      },
    },
    dataverseUrl: DATAVERSE,
    rotateBeforeMs: 60 * DAY,
    verifyTimeoutMs: 10 * 60_000,
    retireAfterMs: 0,
    ...overrides,
  };
}

type JournalLine = Omit<JournalEntry, 'runId' | 'target'>;

/** What a runner would have on disk for one run. */
export class RunRecord {
  /** The last snapshot that reached "storage" before the process died (or the run ended). */
  snapshot: unknown;
  snapshots: { state: string; status: string }[] = [];
  journal: JournalLine[] = [];
  /** True once the simulated process died: later writes never reach storage. */
  crashed = false;
}

export interface DriveInWorldOptions extends Partial<DriveOptions> {
  record?: RunRecord;
  timing?: Partial<StepTiming>;
}

/**
 * Drives a run against the world. When a `crashAfter` fault fires, the process is considered dead: the driver is
 * aborted at once and nothing it writes afterwards is kept, exactly as if the process had been killed.
 */
export async function driveInWorld(
  world: FakeWorld,
  options: DriveInWorldOptions = {},
): Promise<{ result: RotationResult; record: RunRecord }> {
  const record = options.record ?? new RunRecord();
  record.crashed = false;
  const controller = new AbortController();
  world.onCrash = () => {
    record.crashed = true;
    controller.abort();
  };
  const { record: _r, timing, ...rest } = options;
  const result = await driveRotation({
    ports: world.ports(timing),
    ...(options.snapshot === undefined && !options.input ? { input: rotationInput() } : {}),
    ...rest,
    signal: controller.signal,
    onSnapshot: async (persisted, info) => {
      if (record.crashed) return;
      record.snapshot = JSON.parse(JSON.stringify(persisted));
      record.snapshots.push(info);
    },
    onJournal: (entry) => {
      if (!record.crashed) record.journal.push(entry);
    },
  });
  world.onCrash = undefined;
  return { result, record };
}

/** Drives, and after every simulated crash revives the world and resumes from the last persisted snapshot. */
export async function driveToEnd(
  world: FakeWorld,
  options: DriveInWorldOptions = {},
  maxCrashes = 10,
): Promise<{ result: RotationResult; record: RunRecord; crashes: number }> {
  let { result, record } = await driveInWorld(world, options);
  let crashes = 0;
  while (result.status === 'interrupted' && record.crashed && crashes < maxCrashes) {
    crashes += 1;
    world.revive();
    ({ result, record } = await driveInWorld(world, {
      ...options,
      input: undefined,
      snapshot: record.snapshot,
      record,
    }));
  }
  return { result, record, crashes };
}

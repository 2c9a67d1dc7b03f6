// The cost of shared state: one keyvault rotation with the azure-blob state backend (Azurite over HTTPS with OAuth,
// through @azure/storage-blob) against the same rotation with the file backend, at the same injected service latency,
// alternated, median of BENCH_PAIRS. Goal: blob / file <= 1.10. The sandbox (and its Azurite) run in a process of
// their own (`certrotate sandbox start --storage`). Azurite answers on this host, so storage requests carry no injected
// latency: against a real account each state write adds one round trip to the storage region.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileTargetLock } from '../dist/adapters/state/file-lock.js';
import { FileRunStore } from '../dist/adapters/state/file-run-store.js';
import { openStateBackend } from '../dist/adapters/state/index.js';
import { loadConfig } from '../dist/config/load.js';
import { startRun } from '../dist/runs/runner.js';
import { systemClock } from '../dist/runs/system-clock.js';
import { rotationInputFor } from '../dist/runs/target-input.js';
import { median, ms, report, requireRuntimeCaTrust, startSandboxProcess } from './lib.js';
import { benchPorts } from './ports.js';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const GOAL = 1.1;

/** One rotation of `targetName` with `state` (a function of a fresh temp dir giving {store, lock}); its wall time. */
async function rotateOnce(loaded, targetName, state) {
  const clock = { now: () => Date.now(), sleep: (ms, signal) => systemClock.sleep(ms, signal) };
  const target = loaded.config.targets.find((t) => t.name === targetName);
  const ports = benchPorts(loaded, target, clock);
  const { store, lock } = state(await mkdtemp(join(tmpdir(), 'certrotate-bench-')));
  const input = rotationInputFor(loaded.config, target, {
    runId: `bench-${targetName}-${Date.now()}`,
  });
  const t0 = performance.now();
  const doc = await startRun({ store, lock, ports, clock, actor: 'bench' }, input);
  const wall = performance.now() - t0;
  if (doc.outcome !== 'succeeded') throw new Error(`rotation of ${targetName} ended ${doc.outcome}: ${doc.message}`);
  return wall;
}

export async function run() {
  requireRuntimeCaTrust('bench/state-backend.js');
  const sb = await startSandboxProcess([
    '--storage',
    '--targets',
    String(2 * PAIRS + 1),
    '--latency',
    String(LATENCY_MS),
    '--propagation-delay',
    '0',
    '--kv-create-delay',
    '0',
  ]);
  try {
    const loaded = await loadConfig(sb.config);
    if (loaded.config.state.kind !== 'azure-blob') throw new Error('sandbox --storage did not write azure-blob state');
    const names = loaded.config.targets.filter((t) => t.name.startsWith('bench-')).map((t) => t.name);
    const file = (dir) => ({ store: new FileRunStore(dir), lock: new FileTargetLock(dir) });
    // One backend (one container client, one credential) for every blob rotation, as one certrotate process has.
    const shared = openStateBackend(loaded.config);
    const blob = () => shared;
    // Warm-up: loads the SDKs (the storage SDK too) and opens connections, so neither measured variant pays for it.
    await rotateOnce(loaded, names.shift(), blob);
    const fileWalls = [];
    const blobWalls = [];
    for (let i = 0; i < PAIRS; i++) {
      fileWalls.push(await rotateOnce(loaded, names.shift(), file));
      blobWalls.push(await rotateOnce(loaded, names.shift(), blob));
    }
    const f = median(fileWalls);
    const b = median(blobWalls);
    const ratio = b / f;
    report({
      name: `state backend: one keyvault rotation, azure-blob (Azurite) vs file, ${LATENCY_MS} ms service latency (median of ${PAIRS}, alternated)`,
      figure: `blob ${ms(b)}, file ${ms(f)} (+${ms(b - f)})`,
      ratio: `${ratio.toFixed(3)}x`,
      goal: `<= ${GOAL.toFixed(2)}x`,
      pass: ratio <= GOAL,
      notes: ['storage requests go to Azurite on this host, without injected latency (a real account adds its RTT)'],
    });
    return { name: 'state-backend', blobMs: b, fileMs: f, ratio, pass: ratio <= GOAL };
  } finally {
    await sb.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

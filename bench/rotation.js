// One full rotation against the sandbox with injected latency, in process, through the real runner, adapters and
// SDKs. certrotate's own overhead is the wall time left after the time the critical path must spend anyway: the
// injected latency of every service request it makes (requests are sequential) and the deliberate waits it sleeps
// (polls, propagation, consistency reads, all through one counting clock). Goal: overhead < 10% of the latency sum.
// Also: the cost of persistence (file run store against an in-memory one, same rotation, alternated) and the peak
// memory of `certrotate rotate` as a child process. The sandbox runs in a process of its own (`certrotate sandbox
// start`), so its CPU and its event loop are not mixed into the client's timings.
import { performance } from 'node:perf_hooks';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/config/load.js';
import { FileTargetLock } from '../dist/adapters/state/file-lock.js';
import { FileRunStore } from '../dist/adapters/state/file-run-store.js';
import { MemoryRunStore } from '../dist/adapters/state/memory-run-store.js';
import { startRun } from '../dist/runs/runner.js';
import { systemClock } from '../dist/runs/system-clock.js';
import { rotationInputFor } from '../dist/runs/target-input.js';
import { criticalPath, median, ms, report, requireRuntimeCaTrust, runCli, startSandboxProcess } from './lib.js';
import { benchPorts } from './ports.js';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);

/** A clock whose sleeps are added up: deliberate waits are not overhead. */
function countingClock() {
  const c = {
    slept: 0,
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      const t0 = performance.now();
      try {
        await systemClock.sleep(ms, signal);
      } finally {
        c.slept += performance.now() - t0;
      }
    },
  };
  return c;
}

async function rotateOnce(sb, loaded, targetName, store) {
  const clock = countingClock();
  const target = loaded.config.targets.find((t) => t.name === targetName);
  const ports = benchPorts(loaded, target, clock);
  const stateDir = await mkdtemp(join(tmpdir(), 'certrotate-bench-'));
  const deps = { store: store(stateDir), lock: new FileTargetLock(stateDir), ports, clock, actor: 'bench' };
  const before = (await sb.requests()).length;
  const input = rotationInputFor(loaded.config, target, { runId: `bench-${targetName}` });
  const t0 = performance.now();
  const doc = await startRun(deps, input);
  const wall = performance.now() - t0;
  if (doc.outcome !== 'succeeded') throw new Error(`rotation of ${targetName} ended ${doc.outcome}: ${doc.message}`);
  const log = (await sb.requests()).slice(before);
  return { wall, slept: clock.slept, ...criticalPath(log) };
}

export async function run() {
  requireRuntimeCaTrust('bench/rotation.js');
  const sb = await startSandboxProcess([
    '--targets',
    String(2 * PAIRS + 2),
    '--latency',
    String(LATENCY_MS),
    '--propagation-delay',
    '0',
    '--kv-create-delay',
    '0',
  ]);
  try {
    const loaded = await loadConfig(sb.config);
    const names = loaded.config.targets.filter((t) => t.name.startsWith('bench-')).map((t) => t.name);
    // Warm-up: loads the SDKs and opens connections, so neither measured variant pays for it.
    await rotateOnce(sb, loaded, names.shift(), () => new MemoryRunStore());
    const file = [];
    const memory = [];
    for (let i = 0; i < PAIRS; i++) {
      file.push(await rotateOnce(sb, loaded, names.shift(), (d) => new FileRunStore(d)));
      memory.push(await rotateOnce(sb, loaded, names.shift(), () => new MemoryRunStore()));
    }
    const m = (xs, f) => median(xs.map(f));
    const wall = m(file, (r) => r.wall);
    const latencySum = m(file, (r) => r.topLevel * LATENCY_MS);
    const slept = m(file, (r) => r.slept);
    // Time waiting on services beyond the injected latency is the services' own time, not certrotate's.
    const serviceTime = m(file, (r) => r.served) - latencySum;
    const overhead = wall - latencySum - serviceTime - slept;
    const ratio = overhead / latencySum;
    report({
      name: `rotation overhead: one keyvault rotation, ${LATENCY_MS} ms latency per request (median of ${PAIRS})`,
      figure: `wall ${ms(wall)} = ${m(file, (r) => r.topLevel)} requests on the critical path x ${LATENCY_MS} ms (${ms(latencySum)}) + sandbox service time ${ms(serviceTime)} + waits ${ms(slept)} + certrotate ${ms(overhead)} (${m(file, (r) => r.requests)} requests in all, nested ones made by the app server)`,
      ratio: `overhead / latency sum = ${(ratio * 100).toFixed(1)}%`,
      goal: '< 10%',
      pass: ratio < 0.1,
      notes: [
        'request intervals come from the sandbox request log (a separate process); nested requests are not counted twice',
        'certrotate time = wall - latency - sandbox service time - deliberate waits: the CLI, the SDKs, TLS and persistence',
      ],
    });
    const fileWall = m(file, (r) => r.wall);
    const memWall = m(memory, (r) => r.wall);
    report({
      name: `persistence: file run store vs in-memory run store, same rotation (median of ${PAIRS}, alternated)`,
      figure: `file ${ms(fileWall)}, memory ${ms(memWall)}`,
      ratio: `${(fileWall / memWall).toFixed(3)}x (+${ms(fileWall - memWall)})`,
    });
    const peak = await runCli(['--config', sb.config, '--json', 'rotate', names.shift(), '--yes']);
    report({
      name: 'peak memory: certrotate rotate as a child process (VmHWM)',
      figure: `${peak.peakRssMb.toFixed(0)} MiB (exit ${peak.code})`,
    });
    return {
      name: 'rotation',
      wallMs: wall,
      latencySumMs: latencySum,
      waitsMs: slept,
      serviceMs: serviceTime,
      overheadMs: overhead,
      overheadRatio: ratio,
      pass: ratio < 0.1,
      persistenceRatio: fileWall / memWall,
      peakRssMb: peak.peakRssMb,
    };
  } finally {
    await sb.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

// Cold start: `certrotate --help` and `--version` against `node -e 0`, and `certrotate scan` up to its first request
// against the same baseline. All are fresh processes of the same Node, alternated so that machine noise hits them
// alike, in several rounds (the machine is shared: a round that lands on a busy moment shows as an outlier).
// Goals (issue 10): --help and --version <= 1.2x node -e 0; scan up to its first request <= 1.5x.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median, ms, report, requireRuntimeCaTrust, startSandboxProcess } from './lib.js';

const cli = fileURLToPath(new URL('../bin/certrotate.js', import.meta.url));
const builtCli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
/** Alternated measurements per round, and rounds. */
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCAN_RUNS = Number(process.env.BENCH_SCAN_RUNS ?? 10);
/** Alternated runs of the CPU figure (scan's CPU time up to its first socket). */
const CPU_RUNS = Number(process.env.BENCH_CPU_RUNS ?? 11);
const probe = fileURLToPath(new URL('./first-socket-probe.js', import.meta.url));

/** Wall time of a fresh `node ...args` from spawn to exit, stdout discarded (a pipe to commander: not a TTY). */
function time(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: env ?? process.env });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const cases = {
  node: ['-e', '0'],
  help: [cli, '--help'],
  version: [cli, '--version'],
  // The same help through commander (what a terminal narrower than 80 columns gets): the launcher's saved text
  // bypassed, the program built and parsed.
  commanderHelp: [
    '--input-type=module',
    '-e',
    `import(${JSON.stringify(builtCli)}).then((m) => m.main(['node', 'certrotate', '--help']))`,
  ],
};

/** One round: every case RUNS times, alternated; the median of each. */
function round() {
  const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) for (const [k, args] of Object.entries(cases)) samples[k].push(time(args));
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

/**
 * `certrotate scan --json` from spawn to the start of the first request the sandbox receives (its log has each
 * request's end time and duration, from the same wall clock). The TLS handshake before that request is included.
 */
async function scanToFirstRequest(sb) {
  const env = { ...process.env, CERTROTATE_CONFIG: sb.config, CI: 'true' };
  const before = (await sb.requests()).length;
  const t0 = performance.timeOrigin + performance.now();
  const r = spawnSync(process.execPath, [cli, 'scan', '--json'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (r.status !== 0) throw new Error(`certrotate scan exited ${r.status}`);
  const starts = (await sb.requests()).slice(before).map((e) => Date.parse(e.time) - e.elapsedMs);
  if (!starts.length) throw new Error('certrotate scan made no request');
  return Math.min(...starts) - t0;
}

/**
 * CPU milliseconds (user + system, Node's own start included) of a fresh `node ...args` up to its first client
 * socket (`net.client.socket`: before the TLS handshake), or to its exit if it opens none; bench/first-socket-probe.js
 * measures it inside the process. CPU time is less distorted than wall time on a loaded machine.
 */
function cpuToFirstSocket(args, env) {
  const r = spawnSync(process.execPath, ['--import', probe, ...args], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    env: env ?? process.env,
  });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return JSON.parse(r.output[3].toString().trim().split('\n')[0]).cpuMs;
}

export async function run() {
  requireRuntimeCaTrust('bench/cold-start.js');
  for (const args of Object.values(cases)) time(args); // warm the file system and compile caches; not counted
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(round());
  const ratios = (k) => rounds.map((r) => r[k] / r.node);
  const fmt = (v) => v.map((x) => `${x.toFixed(2)}x`).join(', ');
  const results = {};
  for (const [k, label, goal] of [
    ['help', 'certrotate --help', 1.2],
    ['version', 'certrotate --version', 1.2],
    ['commanderHelp', '--help through commander (a terminal < 80 columns)', undefined],
  ]) {
    const ratio = median(ratios(k));
    results[k] = { ms: median(rounds.map((r) => r[k])), ratio };
    report({
      name: `cold start: ${label} vs node -e 0 (${ROUNDS} rounds, median of ${RUNS} each, Node ${process.version})`,
      figure: `${label} ${ms(results[k].ms)}, node -e 0 ${ms(median(rounds.map((r) => r.node)))} (medians over rounds)`,
      ratio: `${ratio.toFixed(2)}x (rounds: ${fmt(ratios(k))})`,
      ...(goal ? { goal: `<= ${goal}x`, pass: ratio <= goal } : {}),
    });
  }

  const sb = await startSandboxProcess([], { prefix: 'certrotate-bench-start-' });
  const scanRatios = [];
  const scanMs = [];
  const baseMs = [];
  const cpuBase = [];
  const cpuScan = [];
  try {
    await scanToFirstRequest(sb); // warm-up, not counted
    for (let r = 0; r < ROUNDS; r++) {
      const base = [];
      const scan = [];
      for (let i = 0; i < SCAN_RUNS; i++) {
        base.push(time(cases.node));
        scan.push(await scanToFirstRequest(sb));
      }
      scanRatios.push(median(scan) / median(base));
      scanMs.push(median(scan));
      baseMs.push(median(base));
    }
    const scanEnv = { ...process.env, CERTROTATE_CONFIG: sb.config, CI: 'true' };
    cpuToFirstSocket([cli, 'scan', '--json'], scanEnv); // warm-up, not counted
    for (let i = 0; i < CPU_RUNS; i++) {
      cpuBase.push(cpuToFirstSocket(cases.node));
      cpuScan.push(cpuToFirstSocket([cli, 'scan', '--json'], scanEnv));
    }
  } finally {
    await sb.stop();
  }
  const scanRatio = median(scanRatios);
  report({
    name: `cold start: certrotate scan up to its first request vs node -e 0 (${ROUNDS} rounds, median of ${SCAN_RUNS} each)`,
    figure: `scan's first request after ${ms(median(scanMs))}, node -e 0 ${ms(median(baseMs))} (medians over rounds)`,
    ratio: `${scanRatio.toFixed(2)}x (rounds: ${fmt(scanRatios)})`,
    goal: '<= 1.5x',
    pass: scanRatio <= 1.5,
  });
  const cpuRatio = median(cpuScan) / median(cpuBase);
  report({
    name: `cold start: CPU time of certrotate scan up to its first socket vs node -e 0 (median of ${CPU_RUNS}, alternated)`,
    figure: `scan ${ms(median(cpuScan))} CPU, node -e 0 ${ms(median(cpuBase))} CPU`,
    ratio: `${cpuRatio.toFixed(2)}x`,
  });
  const pass = results.help.ratio <= 1.2 && results.version.ratio <= 1.2 && scanRatio <= 1.5;
  return {
    name: 'coldStart',
    ...results,
    scan: { ms: median(scanMs), ratio: scanRatio },
    scanCpu: { ms: median(cpuScan), baseMs: median(cpuBase), ratio: cpuRatio },
    pass,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

// Fleet benchmarks (issue 12), each against a sandbox in its own process with 50 ms latency per request and budgets
// at Azure's published limits. `npm run bench -- fleet` ends with one line per figure, e.g.
// `fleet-scan 500: wall/latency-sum 0.041`, so a pipeline can read them. The arithmetic is in bench/README.md.
//
// Figures are the functions in FIGURES: each gets `startSandboxProcess` and returns {lines, pass}. The fleet-rotation
// figure (`fleet-rotation N: wall/bound X`, rotate --due) is added there as one more function.
/* global fetch */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { requireRuntimeCaTrust } from './lib.js';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const SCAN_TARGETS = Number(process.env.BENCH_FLEET_SCAN_TARGETS ?? 500);
/** `scan --concurrency` for the figure; unset = scan's default (sized from the budgets). */
const SCAN_CONCURRENCY = process.env.BENCH_FLEET_SCAN_CONCURRENCY;
const cli = fileURLToPath(new URL('../bin/certrotate.js', import.meta.url));

/** Starts `certrotate sandbox start ARGS` as a child process; resolves with its ready line and admin readers. */
export async function startSandboxProcess(args) {
  const dir = await mkdtemp(join(tmpdir(), 'certrotate-bench-fleet-'));
  const child = spawn(process.execPath, [cli, 'sandbox', 'start', '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
  });
  const caPem = await readFile(join(dir, 'ca.pem'), 'utf8');
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), caPem]);
  const admin = async (path) => (await fetch(`${ready.admin}${path}`)).json();
  return {
    ...ready,
    requests: () => admin('/requests'),
    tokens: () => admin('/tokens'),
    budgets: () => admin('/budgets'),
    stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))),
  };
}

/** Runs the CLI to its end; resolves with the exit code, stdout and the wall time in ms. */
export function runCli(args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, wallMs: performance.now() - t0 }));
  });
}

/** Token requests since `before`, per identity and resource. */
function tokenDelta(before, after) {
  const key = (t) => `${t.appId} ${t.resource}`;
  const was = new Map(before.map((t) => [key(t), t.count]));
  return after.map((t) => ({ ...t, count: t.count - (was.get(key(t)) ?? 0) })).filter((t) => t.count > 0);
}

/**
 * fleet-scan N: `certrotate scan --json` of N keyvault targets against 50 ms per request. The sequential latency
 * sum is every request the scan made × the latency (what reading one target after another would at least take);
 * the figure is wall / that sum (goal ≤ 1/16 = 0.0625), with ≤ 1 token request per identity and scope.
 */
async function fleetScan() {
  const sb = await startSandboxProcess([
    '--targets',
    String(SCAN_TARGETS),
    '--latency',
    String(LATENCY_MS),
    '--propagation-delay',
    '0',
  ]);
  try {
    const logBefore = (await sb.requests()).length;
    const tokensBefore = await sb.tokens();
    const scan = await runCli([
      '--config',
      sb.config,
      '--json',
      'scan',
      ...(SCAN_CONCURRENCY ? ['--concurrency', SCAN_CONCURRENCY] : []),
    ]);
    const log = (await sb.requests()).slice(logBefore);
    const tokens = tokenDelta(tokensBefore, await sb.tokens());
    const rows = JSON.parse(scan.stdout).targets;
    const unknown = rows.filter((r) => r.status === 'unknown').length;
    const latencySum = log.length * LATENCY_MS;
    const ratio = scan.wallMs / latencySum;
    const maxPerScope = Math.max(0, ...tokens.map((t) => t.count));
    const byService = {};
    for (const e of log) byService[e.service] = (byService[e.service] ?? 0) + 1;
    const throttled = log.filter((e) => e.status === 429).length;
    const pass = scan.code === 0 && unknown === 0 && ratio <= 1 / 16 && maxPerScope <= 1;
    console.log(`fleet scan: ${rows.length} targets (${SCAN_TARGETS} bench), ${LATENCY_MS} ms per request`);
    console.log(`  exit ${scan.code}; ${unknown} unreadable; wall ${(scan.wallMs / 1000).toFixed(2)} s`);
    console.log(
      `  ${log.length} requests (${Object.entries(byService)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}); ${throttled} answered 429; sequential latency sum ${(latencySum / 1000).toFixed(1)} s`,
    );
    console.log(
      `  token requests: ${tokens.reduce((n, t) => n + t.count, 0)} over ${tokens.length} identity+scope pairs, at most ${maxPerScope} per pair`,
    );
    console.log(
      `  goal: wall/latency-sum ≤ 0.0625 and ≤ 1 token request per identity and scope — ${pass ? 'met' : 'NOT met'}`,
    );
    console.log('');
    return {
      pass,
      lines: [
        `fleet-scan ${SCAN_TARGETS}: wall/latency-sum ${ratio.toFixed(3)}`,
        `fleet-scan ${SCAN_TARGETS}: token requests per identity and scope ${maxPerScope}`,
      ],
    };
  } finally {
    await sb.stop();
  }
}

/** The fleet figures, run in order; one more (fleet rotation) is appended here as a function like fleetScan. */
export const FIGURES = [fleetScan];

export async function run(figures = FIGURES) {
  requireRuntimeCaTrust('bench/fleet.js');
  const lines = [];
  let failed = 0;
  for (const figure of figures) {
    const r = await figure({ startSandboxProcess, runCli });
    lines.push(...r.lines);
    if (!r.pass) failed++;
  }
  // Last, one line per figure, for pipelines.
  for (const l of lines) console.log(l);
  if (failed) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();

// Helpers shared by the benchmarks: medians, formatting, the Node check, the sandbox in its own process, the CLI as a
// child process (wall time, peak RSS, deliberate waits) and the critical path from the sandbox's request log.
/* global fetch */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

/** The median of a list of numbers. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Milliseconds with one decimal. */
export const ms = (v) => `${v.toFixed(1)} ms`;

/** Benchmarks that talk to the sandbox must trust its CA at run time (Node >= 22.19 or 24.5). */
export function requireRuntimeCaTrust(name) {
  if (typeof tls.setDefaultCACertificates !== 'function') {
    console.error(`${name} needs Node >= 22.19 or 24.5 (run it through npm run bench); this is ${process.version}`);
    process.exit(1);
  }
}

/** Prints a result line: name, measured figure, ratio against its baseline, goal, verdict. */
export function report({ name, figure, ratio, goal, pass, notes = [] }) {
  console.log(`${name}`);
  console.log(`  ${figure}`);
  if (ratio !== undefined) console.log(`  ratio: ${ratio}`);
  if (goal) console.log(`  goal: ${goal} — ${pass ? 'met' : 'NOT met'}`);
  for (const n of notes) console.log(`  ${n}`);
  console.log('');
}

const cli = fileURLToPath(new URL('../bin/certrotate.js', import.meta.url));
/** The CLI for children whose sleeps are counted: count-sleeps.js wraps dist/'s clock, which the bundle does not use. */
const unbundledCli = fileURLToPath(new URL('./cli-unbundled.js', import.meta.url));
const sleepCounter = fileURLToPath(new URL('./count-sleeps.js', import.meta.url));

/** The 1-, 5- and 15-minute load averages, for every figure (the machine is shared: say how busy it was). */
export const loadAverage = () =>
  `load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;

/**
 * Starts `certrotate sandbox start --dir TMP ARGS` as a child process (so its CPU and event loop stay out of the
 * client's timings), waits for its ready line, trusts its CA in this process, and returns the ready line's fields
 * (`config`, `admin`, …) with readers of its admin API (`requests()`, `tokens()`, `budgets()`), its `pid`, its CPU
 * time so far (`cpuMs()`, Linux) and `stop()`. The one sandbox set-up of the benchmarks.
 */
export async function startSandboxProcess(args = [], { prefix = 'certrotate-bench-' } = {}) {
  const dir = await mkdtemp(join(os.tmpdir(), prefix));
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
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), await readFile(join(dir, 'ca.pem'), 'utf8')]);
  const admin = async (path) => (await fetch(`${ready.admin}${path}`)).json();
  return {
    ...ready,
    dir,
    pid: child.pid,
    requests: () => admin('/requests'),
    tokens: () => admin('/tokens'),
    budgets: () => admin('/budgets'),
    cpuMs: () => processCpuMs(child.pid),
    stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))),
  };
}

/** User + system CPU time of a live process so far, ms, from /proc (Linux; clock ticks of 10 ms). */
export async function processCpuMs(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Runs `certrotate ARGS` to its end as a child process. Resolves with the exit code, stdout, stderr, the wall time
 * (ms), the peak RSS read from /proc while it ran (`peakRssMb`, VmHWM, Linux) and, with `countSleeps`, what the
 * child slept on its clock and its own CPU time (`child`: {sleptMs, sleeps, cpuMs}, see count-sleeps.js).
 */
export async function runCli(args, { env = process.env, countSleeps = false } = {}) {
  const sleepsFile = countSleeps ? join(await mkdtemp(join(os.tmpdir(), 'certrotate-bench-sleeps-')), 's.json') : '';
  const node = countSleeps ? ['--import', sleepCounter] : [];
  const t0 = performance.now();
  const child = spawn(process.execPath, [...node, countSleeps ? unbundledCli : cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: countSleeps ? { ...env, BENCH_SLEEPS_FILE: sleepsFile } : env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d.toString()));
  child.stderr.on('data', (d) => (stderr += d.toString()));
  let peakKb = 0;
  const timer = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8').then(
      (s) => (peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0))),
      () => undefined, // the process already exited
    );
  }, 20);
  const code = await new Promise((resolve) => child.on('close', resolve));
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  const counted = countSleeps ? JSON.parse(await readFile(sleepsFile, 'utf8')) : undefined;
  return { code, stdout, stderr, wallMs, peakRssMb: peakKb / 1024, ...(counted ? { child: counted } : {}) };
}

/**
 * The service side of the critical path from the sandbox's request log. The app server makes requests of its own
 * (Key Vault, Entra, Dataverse) while certrotate waits on its webhook or health endpoint; those nest inside the outer
 * request's interval. So: top-level requests are those no other request contains, and the time spent waiting on
 * services is the union of all intervals. Meaningful for one run at a time.
 */
export function criticalPath(log) {
  const spans = log
    .map((r) => {
      const end = Date.parse(r.time);
      return { start: end - r.elapsedMs, end };
    })
    .sort((a, b) => a.start - b.start || b.end - a.end);
  let topLevel = 0;
  let served = 0;
  let cover = { start: -Infinity, end: -Infinity };
  for (const s of spans) {
    if (s.start >= cover.end) {
      served += cover.end - cover.start > 0 && Number.isFinite(cover.start) ? cover.end - cover.start : 0;
      cover = { ...s };
      topLevel++;
    } else if (s.end > cover.end) {
      cover.end = s.end; // overlaps without being contained: another top-level request on the path
      topLevel++;
    }
  }
  if (Number.isFinite(cover.start)) served += cover.end - cover.start;
  return { requests: log.length, topLevel, served };
}

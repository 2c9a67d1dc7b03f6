// Fleet benchmarks (issue 12), each against a sandbox in its own process with 50 ms latency per request and budgets
// at Azure's published limits. `npm run bench -- fleet` ends with one line per figure, e.g.
// `fleet-rotation 500: wall/bound 1.14` and `fleet-scan 500: wall/latency-sum 0.041`, so a pipeline can read them.
// The arithmetic is in bench/README.md (fleet section) and bench/fleet-bound.js.
//
// Figures are the functions in FIGURES: each returns {lines, pass}.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { fleetLowerBound } from './fleet-bound.js';
import { criticalPath, loadAverage, requireRuntimeCaTrust, runCli, startSandboxProcess } from './lib.js';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const SCAN_TARGETS = Number(process.env.BENCH_FLEET_SCAN_TARGETS ?? 500);
/** `scan --concurrency` for the figure; unset = scan's default (sized from the budgets). */
const SCAN_CONCURRENCY = process.env.BENCH_FLEET_SCAN_CONCURRENCY;
/** Fleet sizes of the rotation figure, e.g. `BENCH_FLEET_ROTATION_TARGETS=50,200`. */
const ROTATION_TARGETS = (process.env.BENCH_FLEET_ROTATION_TARGETS ?? '50,200,500').split(',').map(Number);
/** `rotate --due --concurrency` for the figure; unset = the default (sized from the budgets). */
const ROTATION_CONCURRENCY = process.env.BENCH_FLEET_ROTATION_CONCURRENCY;

/** Azure's published limits (fleet-state.md §4, §5), as the sandbox enforces them in the rotation figure. */
const LIMITS = {
  kvCreates: { limit: 20, windowMs: 10_000 }, // certificate creates per vault (as key CREATE, software keys)
  graphAppWrites: { limit: 3000, windowMs: 150_000 }, // Graph writes per app+tenant
  graphTenantWrites: { limit: 18_000, windowMs: 300_000 }, // Graph writes per tenant, all apps
};

const s1 = (ms) => `${(ms / 1000).toFixed(1)} s`;

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
export async function fleetScan() {
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
    const loadBefore = loadAverage();
    const sandboxCpu0 = await sb.cpuMs();
    const scan = await runCli(
      ['--config', sb.config, '--json', 'scan', ...(SCAN_CONCURRENCY ? ['--concurrency', SCAN_CONCURRENCY] : [])],
      { countSleeps: true },
    );
    const sandboxCpuMs = (await sb.cpuMs()) - sandboxCpu0;
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
    console.log(
      `  exit ${scan.code}; ${unknown} unreadable; wall ${(scan.wallMs / 1000).toFixed(2)} s (${loadBefore} before, ${loadAverage()} after)`,
    );
    console.log(
      `  ${log.length} requests (${Object.entries(byService)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}); ${throttled} answered 429; sequential latency sum ${(latencySum / 1000).toFixed(1)} s`,
    );
    console.log(
      `  CPU: certrotate ${s1(scan.child.cpuMs)}, sandbox ${s1(sandboxCpuMs)} (of ${s1(2 * scan.wallMs)} on 2 cores); ` +
        `certrotate opened ${scan.child.tlsConnections} TLS connections; peak RSS ${scan.peakRssMb.toFixed(0)} MiB`,
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

/** Counts of the fleet's requests in the sandbox log that the budgets meter, and every 429 by service. */
function budgetDemand(log) {
  const accepted = (e) => e.status < 400;
  const creates = log.filter(
    (e) => e.service === 'keyvault' && e.method === 'POST' && /\/certificates\/[^/]+\/create$/.test(e.path),
  );
  const graphWrites = log.filter((e) => e.service === 'graph' && e.method !== 'GET' && e.method !== 'HEAD');
  const throttled = {};
  for (const e of log) if (e.status === 429) throttled[e.service] = (throttled[e.service] ?? 0) + 1;
  return {
    creates: creates.filter(accepted).length,
    graphWrites: graphWrites.filter(accepted).length,
    throttled,
  };
}

/** The most any budget key ever held in one window, against its limit, from the sandbox's `/budgets`. */
function budgetPeaks(report) {
  return report.map((b) => ({
    name: b.name,
    limit: b.limit,
    windowSeconds: b.windowSeconds,
    peak: Math.max(0, ...Object.values(b.keys).map((k) => k.peakInWindow)),
    throttled: Object.values(b.keys).reduce((n, k) => n + k.throttled, 0),
  }));
}

/**
 * fleet-rotation N: `certrotate rotate --due --yes` over N due keyvault targets (one vault) at 50 ms per request,
 * the sandbox's budgets at Azure's published limits. First one rotation alone (`rotate bench-0001 --yes`, its sleeps
 * counted by count-sleeps.js) gives the critical path; then the fleet (`--match 'bench-*'`: the N others are due,
 * bench-0001 no longer is). The figure is wall / the lower bound of fleet-bound.js (goal ≤ 1.2), with zero failed
 * runs (from the fleet's JSON document) and the peak RSS of the certrotate process.
 */
export async function fleetRotation(n) {
  const sb = await startSandboxProcess([
    '--targets',
    String(n + 1),
    '--latency',
    String(LATENCY_MS),
    '--kv-create-budget',
    String(LIMITS.kvCreates.limit),
    '--graph-app-writes',
    String(LIMITS.graphAppWrites.limit),
    '--graph-tenant-writes',
    String(LIMITS.graphTenantWrites.limit),
  ]);
  try {
    const config = ['--config', sb.config, '--json'];
    // One rotation alone: the critical path every rotation of the fleet has to walk.
    let before = (await sb.requests()).length;
    const loadSingle = loadAverage();
    const single = await runCli([...config, 'rotate', 'bench-0001', '--yes'], { countSleeps: true });
    if (single.code !== 0) throw new Error(`rotate bench-0001 exited ${single.code}: ${single.stderr.slice(-500)}`);
    const path = criticalPath((await sb.requests()).slice(before));
    const criticalPathMs = path.topLevel * LATENCY_MS + single.child.sleptMs;
    // Let the create window of that rotation pass, so the fleet starts with the vault's whole budget.
    await sleep(LIMITS.kvCreates.windowMs);

    before = (await sb.requests()).length;
    const sandboxCpu0 = await sb.cpuMs();
    const loadBefore = loadAverage();
    const fleet = await runCli(
      [
        ...config,
        'rotate',
        '--due',
        '--match',
        'bench-*',
        '--yes',
        ...(ROTATION_CONCURRENCY ? ['--concurrency', ROTATION_CONCURRENCY] : []),
      ],
      { countSleeps: true },
    );
    const loadAfter = loadAverage();
    const sandboxCpuMs = (await sb.cpuMs()) - sandboxCpu0;
    const log = (await sb.requests()).slice(before);
    if (process.env.BENCH_FLEET_LOG_DIR) {
      // For a closer look: the fleet's request log, its JSON document and its stderr (progress, warnings).
      const base = join(process.env.BENCH_FLEET_LOG_DIR, `fleet-rotation-${n}`);
      await writeFile(`${base}.requests.json`, JSON.stringify(log));
      await writeFile(`${base}.stdout.json`, fleet.stdout);
      await writeFile(`${base}.stderr.log`, fleet.stderr);
    }
    const doc = JSON.parse(fleet.stdout);
    const counts = doc.counts;
    const failedRuns = counts.total - counts.succeeded - counts.notDue;
    const demand = budgetDemand(log);
    const bound = fleetLowerBound({
      criticalPathMs,
      budgets: [
        { name: 'Key Vault creates per vault', demand: demand.creates, ...LIMITS.kvCreates },
        { name: 'Graph writes per app+tenant', demand: demand.graphWrites, ...LIMITS.graphAppWrites },
        { name: 'Graph writes per tenant', demand: demand.graphWrites, ...LIMITS.graphTenantWrites },
      ],
    });
    const ratio = fleet.wallMs / bound.boundMs;
    const peaks = budgetPeaks(await sb.budgets());
    const overBudget = peaks.filter((p) => p.limit > 0 && p.peak > p.limit);
    // The sandbox's own time per request beyond the injected latency (its CPU: RSA keys for creates, token signing,
    // and its event loop's queue). The app server's requests are left out: their time holds the requests it makes
    // itself (to Entra, Key Vault, Dataverse), which are in the log on their own.
    const service = log
      .filter((e) => e.service !== 'server')
      .map((e) => Math.max(0, e.elapsedMs - LATENCY_MS))
      .sort((a, b) => a - b);
    const serviceSum = service.reduce((a, b) => a + b, 0);
    const pct = (q) => service[Math.min(service.length - 1, Math.floor(q * service.length))] ?? 0;
    const pass = fleet.code === 0 && counts.succeeded === n && failedRuns === 0 && ratio <= 1.2 && !overBudget.length;

    console.log(
      `fleet rotation: ${n} due targets (one vault), ${LATENCY_MS} ms per request, budgets at Azure's limits`,
    );
    console.log(
      `  one rotation alone: ${path.topLevel} top-level requests x ${LATENCY_MS} ms + waits ${s1(single.child.sleptMs)} ` +
        `(${single.child.sleeps} sleeps) = critical path ${s1(criticalPathMs)}; its wall ${s1(single.wallMs)} (${loadSingle})`,
    );
    console.log(
      `  fleet: exit ${fleet.code}; wall ${s1(fleet.wallMs)} (${loadBefore} before, ${loadAfter} after); ` +
        `concurrency ${ROTATION_CONCURRENCY ?? 'default'}`,
    );
    console.log(
      `  runs: ${Object.entries(counts)
        .filter(([k, v]) => v && k !== 'total')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} of ${counts.total}; failed runs ${failedRuns}`,
    );
    console.log(
      `  ${log.length} requests; ${demand.creates} certificate creates, ${demand.graphWrites} Graph writes accepted; ` +
        `429s: ${
          Object.entries(demand.throttled)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none'
        }`,
    );
    console.log(
      `  budgets (most in one window / limit): ${peaks.map((p) => `${p.name} ${p.peak}/${p.limit || '∞'}`).join(', ')}`,
    );
    console.log(
      `  bound = max(${bound.terms.map((t) => `${t.name} ${s1(t.ms)}`).join(', ')}) = ${s1(bound.boundMs)} (${bound.binding})`,
    );
    console.log(
      `  CPU during the fleet: certrotate ${s1(fleet.child.cpuMs)}, sandbox ${s1(sandboxCpuMs)} ` +
        `(of ${s1(2 * fleet.wallMs)} on 2 cores); sandbox service time per request beyond latency (app server's own ` +
        `requests left out): ` +
        `median ${pct(0.5).toFixed(0)} ms, p95 ${pct(0.95).toFixed(0)} ms, sum ${s1(serviceSum)}`,
    );
    console.log(
      `  deliberate waits in the fleet process: ${s1(fleet.child.sleptMs)} over ${fleet.child.sleeps} sleeps`,
    );
    console.log(`  peak RSS of certrotate (VmHWM): ${fleet.peakRssMb.toFixed(0)} MiB`);
    console.log(
      `  goal: wall/bound ≤ 1.2, zero failed runs, no budget exceeded — ${pass ? 'met' : 'NOT met'} (ratio ${ratio.toFixed(2)})`,
    );
    console.log('');
    return {
      pass,
      lines: [
        `fleet-rotation ${n}: wall/bound ${ratio.toFixed(2)}`,
        `fleet-rotation ${n}: failed runs ${failedRuns}`,
        `fleet-rotation ${n}: peak RSS MiB ${fleet.peakRssMb.toFixed(0)}`,
      ],
    };
  } finally {
    await sb.stop();
  }
}

/** The fleet figures, run in order. */
export const FIGURES = [fleetScan, ...ROTATION_TARGETS.map((n) => () => fleetRotation(n))];

export async function run(figures = FIGURES) {
  requireRuntimeCaTrust('bench/fleet.js');
  const lines = [];
  let failed = 0;
  for (const figure of figures) {
    const r = await figure();
    lines.push(...r.lines);
    if (!r.pass) failed++;
  }
  // Last, one line per figure, for pipelines.
  for (const l of lines) console.log(l);
  if (failed) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();

/**
 * Shared set-up for the end-to-end tests: a small in-process sandbox with short delays, its admin API over HTTPS
 * (what the tests assert on), config edits for the CLI child, and the safety invariants of DESIGN §2 as checks over
 * the sandbox's `/history` and `/state`. The CLI always runs as a child process (`runCli`), never in-process.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import {
  startSandbox,
  type FaultRule,
  type HistoryEvent,
  type Sandbox,
  type SandboxOptions,
  type SandboxTarget,
} from '../../src/sandbox/index.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { cliPath, runCli, type CliResult } from './cli.js';

export type { FaultRule, HistoryEvent, Sandbox, SandboxTarget };

/**
 * Starts a sandbox sized for e2e tests: 1 s propagation and Key Vault create delays, a small key pool. Its `stop`
 * also removes the sandbox's directory (config, CA, the runs' state), which holds nothing worth keeping.
 */
export async function startE2eSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await startSandbox({ propagationDelaySeconds: 1, kvCreateDelaySeconds: 1, keyPoolSize: 2, ...options });
  const stop = sb.stop.bind(sb);
  sb.stop = async () => {
    await stop();
    if (!options.dir) await rm(sb.dir, { recursive: true, force: true });
  };
  return sb;
}

/** One call to the sandbox's admin API, trusting the sandbox CA for this request only. */
export function admin<T = unknown>(sb: Sandbox, method: string, path: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${sb.adminUrl}${path}`,
      {
        method,
        ca: sb.caPem,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 400) reject(new Error(`admin ${method} ${path}: ${status} ${text}`));
          else resolve((text ? JSON.parse(text) : undefined) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** `GET /state` as DESIGN §6 describes it (the fields the tests read). */
export interface SandboxState {
  apps: {
    appId: string;
    target: string | null;
    keyCredentials: { keyId: string; thumbprint: string; start: string; end: string }[];
  }[];
  vaults: {
    url: string;
    certificates: {
      name: string;
      versions: { version: string; thumbprint: string; enabled: boolean; tags: Record<string, string> }[];
    }[];
  }[];
  servers: { name: string; appId: string; thumbprint: string; previousThumbprint: string | null }[];
  sites: { websiteId: string; target: string; appId: string; status: string; thumbprint: string | null }[];
}

/** A request-log entry of `GET /requests`. */
export interface RequestEntry {
  time: string;
  service: string;
  instance: string;
  method: string;
  path: string;
  status: number;
}

export const getState = (sb: Sandbox) => admin<SandboxState>(sb, 'GET', '/state');
export const getHistory = (sb: Sandbox) => admin<HistoryEvent[]>(sb, 'GET', '/history');
export const getRequests = (sb: Sandbox) => admin<RequestEntry[]>(sb, 'GET', '/requests');
export const addFaults = (sb: Sandbox, rules: FaultRule[]) => admin(sb, 'POST', '/faults', { rules });
export const clearFaults = (sb: Sandbox) => admin(sb, 'DELETE', '/faults');

/** `GET {server}/health` of a keyvault target's app server: the status code and body. */
export function serverHealth(sb: Sandbox, target: string): Promise<{ status: number; body: string }> {
  const t = sb.targets.find((x) => x.name === target);
  if (!t?.serverUrl) throw new Error(`no app server for target ${target}`);
  return new Promise((resolve, reject) => {
    const req = request(`${t.serverUrl}/health`, { method: 'GET', ca: sb.caPem }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The seeded target called `name` (throws when the sandbox has none). */
export function sandboxTarget(sb: Sandbox, name: string) {
  const t = sb.targets.find((x) => x.name === name);
  if (!t) throw new Error(`the sandbox has no target ${name}`);
  return t;
}

/** The app and the server of a keyvault target as `/state` shows them now. */
export async function targetState(sb: Sandbox, name: string) {
  const t = sandboxTarget(sb, name);
  const state = await getState(sb);
  const app = state.apps.find((a) => a.appId === t.appId)!;
  const server = state.servers.find((s) => s.name === name);
  const versions =
    state.vaults.find((v) => v.url === t.vaultUrl)?.certificates.find((c) => c.name === t.certificate)?.versions ?? [];
  return { app, server, versions };
}

/**
 * Rewrites the sandbox's config for the CLI child, e.g. `(doc) => doc.setIn(['defaults', 'verifyTimeout'], '3s')`.
 * Returns the path of the new file (beside the original, so `caFile` and `state.dir` still resolve).
 */
export async function editConfig(
  sb: Sandbox,
  name: string,
  edit: (doc: ReturnType<typeof parseDocument>) => void,
): Promise<string> {
  const doc = parseDocument(await readFile(sb.configPath, 'utf8'));
  edit(doc);
  const path = join(sb.dir, name);
  await writeFile(path, doc.toString(), { mode: 0o600 });
  return path;
}

/** The rotate/resume JSON document of DESIGN §5. */
export interface RunDocument {
  formatVersion: number;
  runId: string;
  target: string;
  outcome: string | null;
  oldThumbprint: string | null;
  newThumbprint: string | null;
  steps: {
    name: string;
    status: string;
    startedAt: string;
    endedAt: string | null;
    attempts: number;
    detail: string | null;
  }[];
  /** Where the run stopped, why, and the command that continues it (when it can be continued). */
  state?: string;
  message?: string;
  next?: string;
}

/** Parses a command's `--json` stdout, failing with the whole output when it is not one JSON document. */
export function parseJson<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/** Runs `certrotate --config CONFIG ARGS…` as a child process. */
export function cli(config: string, args: string[], opts: Parameters<typeof runCli>[1] = {}): Promise<CliResult> {
  return runCli(['--config', config, ...args], { timeoutMs: 120_000, ...opts });
}

/** A CLI child the test controls (e.g. to SIGKILL it mid-run), and its result once it exits. */
export interface SpawnedCli {
  child: ChildProcess;
  /** Resolves when the child has exited, killed or not. */
  done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
  /** Whether the child leads its own process group ({@link killChild} then kills the group). */
  processGroup?: boolean;
}

/** How a test starts a CLI child it may kill. */
export interface SpawnOptions {
  /** Extra environment (e.g. a per-test TMPDIR). */
  env?: NodeJS.ProcessEnv;
  /**
   * Start the child as the leader of its own process group, so {@link killChild} kills the group, as a shell or a
   * CI agent killing a job does (`kill -9 -PGID`), not only the one process.
   */
  processGroup?: boolean;
}

/** Starts `certrotate --config CONFIG ARGS…` like `runCli` does (no TTY, CI=true), without waiting for it. */
export function spawnCli(
  config: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  opts: Pick<SpawnOptions, 'processGroup'> = {},
): SpawnedCli {
  const child = spawn(process.execPath, [cliPath, '--config', config, ...args], {
    env: { ...process.env, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.processGroup === true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, processGroup: opts.processGroup === true };
}

/** Sends `signal` to the child, or to its whole process group when it was started with `processGroup`. */
export function killChild(run: SpawnedCli, signal: NodeJS.Signals): void {
  if (run.processGroup && run.child.pid !== undefined) {
    try {
      process.kill(-run.child.pid, signal);
    } catch (err) {
      // The group is gone already (the child exited on its own): nothing to kill.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  } else run.child.kill(signal);
}

/** The runs of `runs --json`. */
export async function listRuns(
  config: string,
): Promise<{ runId: string; target: string; outcome: string | null; state: string }[]> {
  const r = await cli(config, ['--json', 'runs']);
  if (r.code !== 0) throw new Error(`runs failed (${r.code}): ${r.stderr}`);
  return parseJson<{ runs: { runId: string; target: string; outcome: string | null; state: string }[] }>(r).runs;
}

// ---------------------------------------------------------------------------------------------------------------
// Invariants over the sandbox's /history and /state (DESIGN §2). Each returns the violations it found (empty: held).

type AppKeys = Extract<HistoryEvent, { kind: 'appKeys' }>['keys'];

/** What identifies a keyvault target in the sandbox's records. */
export interface TargetRef {
  appId: string;
  /** The app server's name (the target's name). */
  server: string;
}

/**
 * I1 never keyless: after every change to the app's keys or the server's key, the app holds a credential valid at
 * that instant whose thumbprint is the key the server uses; and every key the server switches to had already produced
 * a token (a key Entra has not accepted yet would leave the server unable to sign in). Keys the server used before
 * (the seeded one, the old key a rollback restores) are exempt from the second rule.
 */
export function checkI1(history: HistoryEvent[], ref: TargetRef): string[] {
  const problems: string[] = [];
  let keys: AppKeys | undefined;
  let server: string | undefined;
  const usedBefore = new Set<string>();
  const tokened = new Set<string>();
  for (const e of history) {
    if (e.kind === 'token' && e.appId === ref.appId) tokened.add(e.thumbprint);
    if (e.kind === 'appKeys' && e.appId === ref.appId) keys = e.keys;
    else if (e.kind === 'serverKey' && e.server === ref.server) {
      // A key the server used before (the seeded one, or the old key a rollback restores) is known to work.
      if (server !== undefined && !usedBefore.has(e.thumbprint) && !tokened.has(e.thumbprint)) {
        problems.push(`I1 at ${e.time}: server switched to ${e.thumbprint} before that key produced any token`);
      }
      usedBefore.add(e.thumbprint);
      server = e.thumbprint;
    } else continue;
    if (!keys || server === undefined) continue;
    const at = Date.parse(e.time);
    const valid = keys.some((k) => k.thumbprint === server && Date.parse(k.start) <= at && at < Date.parse(k.end));
    if (!valid) problems.push(`I1 at ${e.time}: the server's key ${server} is not a valid credential of the app`);
  }
  if (server === undefined) problems.push(`I1: history has no key for server ${ref.server}`);
  return problems;
}

/** I2 verify before retire: the old key leaves the app only after the new key produced a token. */
export function checkI2(
  history: HistoryEvent[],
  ref: TargetRef & { oldThumbprint: string; newThumbprint: string },
): string[] {
  let newKeyTokened = false;
  let held = false;
  for (const e of history) {
    if (e.kind === 'token' && e.appId === ref.appId && e.thumbprint === ref.newThumbprint) newKeyTokened = true;
    if (e.kind !== 'appKeys' || e.appId !== ref.appId) continue;
    const has = e.keys.some((k) => k.thumbprint === ref.oldThumbprint);
    if (held && !has && !newKeyTokened) {
      return [
        `I2 at ${e.time}: old key ${ref.oldThumbprint} left the app before ${ref.newThumbprint} produced a token`,
      ];
    }
    held = has;
  }
  return [];
}

/**
 * I3 one new version, one new key credential: over the whole history the app gained exactly `expectedNew` key
 * credentials besides the seeded ones (each thumbprint added once, under one keyId), and the vault holds exactly
 * `expectedNew` versions besides the seeded one, each tagged with the run that made it.
 */
export function checkI3(
  history: HistoryEvent[],
  state: SandboxState,
  ref: TargetRef & { vaultUrl: string; certificate: string; runIds: string[]; expectedNew?: number },
): string[] {
  const problems: string[] = [];
  const expected = ref.expectedNew ?? 1;
  const appEvents = history.filter(
    (e): e is Extract<HistoryEvent, { kind: 'appKeys' }> => e.kind === 'appKeys' && e.appId === ref.appId,
  );
  const seeded = new Set((appEvents[0]?.keys ?? []).map((k) => k.keyId));
  const added = new Map<string, Set<string>>(); // thumbprint → keyIds
  for (const e of appEvents) {
    for (const k of e.keys) {
      if (seeded.has(k.keyId)) continue;
      const ids = added.get(k.thumbprint) ?? new Set<string>();
      ids.add(k.keyId);
      added.set(k.thumbprint, ids);
    }
  }
  if (added.size !== expected) {
    problems.push(
      `I3: the app gained ${added.size} new key credential(s) (${[...added.keys()].join(', ')}), expected ${expected}`,
    );
  }
  for (const [thumbprint, ids] of added) {
    if (ids.size > 1) problems.push(`I3: key ${thumbprint} was attached ${ids.size} times`);
  }
  const versions =
    state.vaults.find((v) => v.url === ref.vaultUrl)?.certificates.find((c) => c.name === ref.certificate)?.versions ??
    [];
  const made = versions.filter((v) => v.tags['certrotate-run'] !== undefined);
  if (versions.length !== 1 + expected || made.length !== expected) {
    problems.push(
      `I3: the vault holds ${versions.length} version(s), ${made.length} made by certrotate; expected 1 + ${expected}`,
    );
  }
  for (const v of made) {
    if (!ref.runIds.includes(v.tags['certrotate-run']!)) {
      problems.push(
        `I3: version ${v.version} was made by run ${v.tags['certrotate-run']}, not ${ref.runIds.join(' or ')}`,
      );
    }
  }
  for (const [thumbprint] of added) {
    if (!versions.some((v) => v.thumbprint === thumbprint)) {
      problems.push(`I3: key ${thumbprint} on the app is no version of ${ref.certificate}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Crashes: kill a CLI child at a chosen moment, then resume and check convergence.

/** mulberry32: a tiny seeded PRNG, so a failing seed reproduces. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * After a kill: resumes the target's run (or, when the kill came before its first snapshot, rotates again), then
 * checks the end state, I1–I3 over the whole history, and that nothing is left to do. Returns where the kill landed.
 */
export async function resumeAndCheck(
  sb: Sandbox,
  target: string,
  oldThumbprint: string,
  context: string,
): Promise<string> {
  const t = sandboxTarget(sb, target);
  const runIds: string[] = [];
  const runs = (await listRuns(sb.configPath)).filter((r) => r.target === target);
  let final: RunDocument;
  let landed: string;
  if (runs.length === 0) {
    // Killed before the run's first snapshot: nothing is resumable, and nothing may have been changed either.
    landed = '(no snapshot)';
    expect((await targetState(sb, target)).versions, context).toHaveLength(1);
    const again = await cli(sb.configPath, ['rotate', target, '--yes', '--json']);
    expect(again.code, `${context}\n${again.stderr}`).toBe(0);
    final = parseJson<RunDocument>(again);
  } else {
    expect(runs, context).toHaveLength(1);
    landed = runs[0]!.outcome ?? runs[0]!.state;
    runIds.push(runs[0]!.runId);
    // A run killed inside attachKeyCredential before its addKey left cannot tell "never sent" from "sent, not yet
    // readable", so its resume rightly reads for Graph's read-lag window (2 min) before adding: allow for it.
    const resumed = await cli(sb.configPath, ['resume', runs[0]!.runId, '--yes', '--json'], { timeoutMs: 200_000 });
    expect(resumed.code, `${context}\n${resumed.stderr}`).toBe(0);
    final = parseJson<RunDocument>(resumed);
    expect(final.runId).toBe(runs[0]!.runId);
  }
  runIds.push(final.runId);
  expect(final.outcome, context).toBe('succeeded');
  expect(final.oldThumbprint, context).toBe(oldThumbprint);

  const { app, server, versions } = await targetState(sb, target);
  expect(
    app.keyCredentials.map((k) => k.thumbprint),
    context,
  ).toEqual([final.newThumbprint]);
  expect(server!.thumbprint, context).toBe(final.newThumbprint);
  expect(versions.find((v) => v.thumbprint === oldThumbprint)?.enabled, context).toBe(false);

  const [history, state] = await Promise.all([getHistory(sb), getState(sb)]);
  const ref = { appId: t.appId, server: target };
  expect(checkI1(history, ref), context).toEqual([]);
  expect(checkI2(history, { ...ref, oldThumbprint, newThumbprint: final.newThumbprint! }), context).toEqual([]);
  expect(
    checkI3(history, state, { ...ref, vaultUrl: t.vaultUrl!, certificate: t.certificate!, runIds }),
    context,
  ).toEqual([]);
  // Nothing is left to do for the target: its new key is not due.
  const plan = await cli(sb.configPath, ['plan', target, '--detailed-exitcode']);
  expect(plan.code, `${context}\n${plan.stdout}${plan.stderr}`).toBe(0);
  return landed;
}

/** Runs `args` and SIGKILLs (or `signal`s) the child `delayMs` after its stderr (progress, logs) first shows `marker`. */
export async function killOn(
  config: string,
  args: string[],
  marker: string,
  delayMs: number,
  signal: NodeJS.Signals = 'SIGKILL',
  spawnOpts: SpawnOptions = {},
) {
  const run = spawnCli(config, args, spawnOpts.env, spawnOpts);
  let seen = '';
  let armed = false;
  run.child.stderr!.on('data', (d: Buffer) => {
    seen += d.toString();
    if (armed || !seen.includes(marker)) return;
    armed = true;
    if (delayMs === 0) killChild(run, signal);
    else setTimeout(() => killChild(run, signal), delayMs);
  });
  const result = await run.done;
  return { result, reached: seen.includes(marker) };
}

/** Runs `args` and SIGKILLs the child `delayMs` after its progress first shows `→ STEP started`. */
export const killAtStep = (
  config: string,
  args: string[],
  step: string,
  delayMs: number,
  spawnOpts: SpawnOptions = {},
) => killOn(config, args, `→ ${step} started`, delayMs, 'SIGKILL', spawnOpts);

/**
 * Runs `args` and SIGKILLs (or `signal`s) the child as soon as the sandbox has answered a request `isWrite` matches:
 * the world's own record, not the CLI's output, so the trigger holds whatever the CLI prints or logs. The sandbox
 * runs in this process, so its request log is read directly, every millisecond, from the entries the run added.
 */
export async function killOnRequest(
  sb: Sandbox,
  config: string,
  args: string[],
  isWrite: (r: RequestEntry) => boolean,
  signal: NodeJS.Signals = 'SIGKILL',
  spawnOpts: SpawnOptions = {},
) {
  const from = sb.instrumentation.requests().length;
  const run = spawnCli(config, args, spawnOpts.env, spawnOpts);
  let reached = false;
  const poll = setInterval(() => {
    if (reached) return;
    const log = sb.instrumentation.requests();
    if (!log.slice(from).some((r) => r.status < 300 && isWrite(r))) return;
    reached = true;
    killChild(run, signal);
  }, 1);
  try {
    const result = await run.done;
    return { result, reached };
  } finally {
    clearInterval(poll);
  }
}

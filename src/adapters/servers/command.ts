/**
 * A `command` server target: certrotate runs the operator's program (without a shell) with `CERTROTATE_*`
 * variables saying what to do; with `pemFile: true` it also gets the key as a PEM file that exists only while the
 * program runs (mode 0600 in a per-run 0700 directory, see key-files.ts, removed afterwards even on failure).
 *
 * The program runs in its own process group under a small supervisor: a timeout or Ctrl-C stops the whole group
 * (TERM, then KILL), and if certrotate itself dies (even `kill -9`) the supervisor's IPC channel closes, and it
 * kills the group and removes the key directory, so neither the program nor the key outlives the step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { z } from 'zod';
import { duration } from '../../config/fields.js';
import { scrubString } from '../../logging/scrub.js';
import { AdapterError, type CallOptions, type KeyRef, type ServerKeyTarget } from '../ports.js';
import type { KeyMaterial, KeyMaterialLoader } from '../azure/key-material.js';
import { createRunKeyDirectory, sweepStaleKeyFiles, type KeyFilesOptions, type RunKeyDirectory } from './key-files.js';
import { defineServerKind } from './server-kind.js';

/** `server: { kind: command, run: [program, ...args], pemFile?, timeout? }` (DESIGN §5a). */
export const commandServerSchema = z.strictObject({
  kind: z.literal('command'),
  /** The program and its arguments; run without a shell. */
  run: z.array(z.string().min(1)).min(1, { error: 'expected [program, ...args]' }),
  /** Also hand the program a PEM file with the key (mode 0600, removed afterwards). */
  pemFile: z.boolean().default(false),
  timeout: duration.default(300_000),
});

type CommandConfig = z.output<typeof commandServerSchema>;

/**
 * key-material.ts loads the Key Vault SDK and node-forge; the config schema imports this module, so it is loaded
 * only when a PEM file is written (`certrotate runs` must not pay for the SDKs).
 */
const keyMaterialCodec = () => import('../azure/key-material.js');

/** What the program is asked to do (`CERTROTATE_ACTION`). */
export type CommandAction = 'install' | 'restore' | 'current';

/** Options of {@link createCommandTarget}. */
export interface CommandTargetOptions {
  /** Needed only with `pemFile: true`. */
  keyMaterial?: KeyMaterialLoader;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Where the per-run key directories live (default: under the OS temp dir). */
  keyFiles?: KeyFilesOptions;
}

/** The outcome of one run of the program. */
export interface CommandRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Extra options of {@link runProgram}. */
export interface RunProgramOptions {
  /** A directory the supervisor removes if certrotate dies while the program runs (the key directory). */
  cleanupDir?: string;
  /** Called with the process group id once the program's group exists. */
  onGroup?: (pgid: number) => void;
}

const OUTPUT_LIMIT = 64 * 1024;

/**
 * The supervisor, run as `node -e` so it needs no file of its own in src/ or dist/. It is the leader of a new process
 * group (spawned `detached`); the program it starts stays in that group. It waits for `{argv, env, cleanupDir}` on
 * its IPC channel, runs the program with the operator's stdout/stderr pipes, and ends the way the program ended.
 * When the channel closes first, certrotate is gone: it removes `cleanupDir` and SIGKILLs its whole group.
 */
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const { rmSync } = require('node:fs');
let cleanupDir;
const send = (m) => new Promise((r) => (process.connected ? process.send(m, () => r()) : r()));
process.on('SIGTERM', () => {});
process.on('SIGINT', () => {});
process.on('disconnect', () => {
  if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
  try { process.kill(-process.pid, 'SIGKILL'); } catch {}
  process.exit(137);
});
process.once('message', (m) => {
  cleanupDir = m.cleanupDir;
  const fail = async (e) => { await send({ spawnError: { code: e.code, message: e.message } }); process.exit(127); };
  let child;
  try {
    child = spawn(m.argv[0], m.argv.slice(1), { shell: false, env: m.env, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) { return fail(e); }
  child.on('error', fail);
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
});
`;

/** The marker in the supervisor's command line (`ps`), so an operator can tell what it is. */
const SUPERVISOR_TAG = 'certrotate-command-supervisor';

/** Sends `sig` to the whole process group `child` leads (to `child` alone where there are no process groups). */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  if (process.platform === 'win32') {
    child.kill(sig);
    return;
  }
  try {
    process.kill(-child.pid, sig);
  } catch {
    // ESRCH: the group is gone already. Never fall back to the bare pid: once reaped, it may be someone else's.
  }
}

/**
 * Runs `argv` without a shell, with `env`, in its own process group under the supervisor; after `timeoutMs` (or
 * when `signal` aborts) the group gets SIGTERM, then SIGKILL 2 s later.
 */
export function runProgram(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  signal?: AbortSignal,
  extra: RunProgramOptions = {},
): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    // The supervisor's own environment is empty: the operator's (NODE_OPTIONS and all) is for the program only.
    const child = spawn(process.execPath, ['-e', SUPERVISOR, SUPERVISOR_TAG], {
      shell: false,
      detached: true,
      env: {},
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += d.toString('utf8');
    });
    child.on('message', (m: { spawnError?: { code?: string; message: string } }) => {
      if (m.spawnError) spawnError = Object.assign(new Error(m.spawnError.message), { code: m.spawnError.code });
    });
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.pid === undefined || killer) return;
      signalGroup(child, 'SIGTERM');
      killer = setTimeout(() => signalGroup(child, 'SIGKILL'), 2000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('spawn', () => {
      extra.onGroup?.(child.pid!);
      child.send({ argv, env, cleanupDir: extra.cleanupDir });
    });
    child.on('close', (exitCode, sig) => {
      done();
      // A stopped program is stopped with everything it started in its group, even what ignored SIGTERM.
      if (killer) signalGroup(child, 'SIGKILL');
      if (spawnError) reject(spawnError);
      else resolve({ exitCode, signal: sig, stdout, stderr, timedOut });
    });
  });
}

/** The last 40-hex-digit thumbprint the program printed, uppercase; undefined when it printed none. */
export function thumbprintInOutput(stdout: string): string | undefined {
  const all = stdout.match(/\b[0-9A-Fa-f]{40}\b/g);
  return all?.at(-1)?.toUpperCase();
}

/** The last `notBefore=<ISO-8601>` the program printed (its key's validity start), when it printed one. */
export function notBeforeInOutput(stdout: string): string | undefined {
  const all = [...stdout.matchAll(/\bnotBefore[=:]\s*(\S+)/gi)];
  const value = all.at(-1)?.[1];
  return value !== undefined && !Number.isNaN(Date.parse(value)) ? new Date(value).toISOString() : undefined;
}

/** A `command` {@link ServerKeyTarget}. */
export function createCommandTarget(
  target: string,
  server: CommandConfig,
  opts: CommandTargetOptions = {},
): ServerKeyTarget {
  const baseEnv = opts.env ?? process.env;

  async function run(
    action: CommandAction,
    key: KeyRef | undefined,
    o?: CallOptions,
    material?: KeyMaterial,
  ): Promise<CommandRun> {
    if (o?.signal?.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
    const notBefore =
      key?.notBefore ?? (material ? (await keyMaterialCodec()).notBeforeOfPem(material.certificatePem) : undefined);
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      CERTROTATE_TARGET: target,
      CERTROTATE_ACTION: action,
      ...(key ? { CERTROTATE_THUMBPRINT: key.thumbprint.toUpperCase(), CERTROTATE_SECRET_ID: key.secretId } : {}),
      // The fencing token, when known: a program that can read its own key may refuse an older one.
      ...(key && notBefore ? { CERTROTATE_NOT_BEFORE: notBefore } : {}),
      ...(key && o?.runId ? { CERTROTATE_RUN_ID: o.runId } : {}),
    };
    let dir: RunKeyDirectory | undefined;
    try {
      if (server.pemFile && key) {
        if (!opts.keyMaterial) throw new Error('pemFile needs a key material loader');
        const codec = await keyMaterialCodec();
        const pem = codec.pemBundle(material ?? (await opts.keyMaterial.load(key, o)));
        // Directories left by certrotate processes that died (kill -9) go before this one is made.
        await sweepStaleKeyFiles({ ...opts.keyFiles, ...(opts.logger ? { logger: opts.logger } : {}) });
        dir = await createRunKeyDirectory(o?.runId, opts.keyFiles);
        env.CERTROTATE_PEM_FILE = await dir.write('key.pem', pem);
      }
      const result = await runProgram(server.run, env, server.timeout, o?.signal, dir ? { cleanupDir: dir.path } : {});
      if (o?.signal?.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
      if (result.timedOut) {
        throw new AdapterError({
          code: 'timeout',
          message: `server ${target}: ${server.run[0]} ${action} did not finish within ${server.timeout / 1000}s and was stopped`,
          retryable: true,
        });
      }
      if (result.exitCode !== 0) {
        const tail = scrubString(result.stderr.trim().slice(-500));
        throw new AdapterError({
          code: 'commandFailed',
          message: `server ${target}: ${server.run[0]} ${action} exited ${result.exitCode ?? result.signal}${tail ? `: ${tail}` : ''}`,
          retryable: false,
        });
      }
      return result;
    } catch (err) {
      if (err instanceof AdapterError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new AdapterError({
        code: e.code === 'ENOENT' ? 'invalidRequest' : 'unknown',
        message: `server ${target}: cannot run ${server.run[0]} ${action}: ${e.message}`,
        retryable: false,
      });
    } finally {
      // The key file must not outlive the step (DESIGN I4), whatever happened above.
      await dir?.remove();
    }
  }

  /**
   * Servers never move backwards: when the new key's notBefore is known and the program's `current` reports the
   * notBefore of the key in use, a key older than that one is refused before the program is asked to install it.
   */
  async function refuseOlder(key: KeyRef, notBefore: string | undefined, o?: CallOptions) {
    if (notBefore === undefined) return;
    let out: string;
    try {
      out = (await run('current', undefined, o)).stdout;
    } catch (err) {
      // A program whose `current` fails cannot say which key it holds; the install itself then decides.
      if (err instanceof AdapterError && err.detail.code === 'commandFailed') return;
      throw err;
    }
    const inUse = thumbprintInOutput(out);
    const inUseSince = notBeforeInOutput(out);
    if (inUse === undefined || inUseSince === undefined || inUse === key.thumbprint.toUpperCase()) return;
    if (Date.parse(inUseSince) > Date.parse(notBefore)) {
      throw new AdapterError({
        code: 'serverHasNewerKey',
        message: `server ${target} uses key ${inUse} (notBefore ${inUseSince}), newer than ${key.thumbprint} (notBefore ${notBefore}): not installed`,
        retryable: false,
      });
    }
  }

  async function install(key: KeyRef, action: 'install' | 'restore', o?: CallOptions) {
    let material: KeyMaterial | undefined;
    if (server.pemFile) {
      if (!opts.keyMaterial) {
        throw new AdapterError({
          code: 'invalidRequest',
          message: `server ${target}: pemFile needs a key material loader`,
          retryable: false,
        });
      }
      material = await opts.keyMaterial.load(key, o);
    }
    // A restore goes back on purpose (the rollback of this run); only an install is fenced.
    if (action === 'install') {
      await refuseOlder(
        key,
        key.notBefore ?? (material ? (await keyMaterialCodec()).notBeforeOfPem(material.certificatePem) : undefined),
        o,
      );
    }
    const result = await run(action, key, o, material);
    const reported = thumbprintInOutput(result.stdout);
    if (reported && reported !== key.thumbprint.toUpperCase()) {
      throw new AdapterError({
        code: 'invalidRequest',
        message: `server ${target}: ${server.run[0]} ${action} reports key ${reported} in use, not ${key.thumbprint}`,
        retryable: false,
      });
    }
    opts.logger?.info({ target, thumbprint: key.thumbprint, action }, 'command installed the key');
  }

  return {
    manual: false,
    async currentKey(o) {
      const thumbprint = thumbprintInOutput((await run('current', undefined, o)).stdout);
      return thumbprint ? { thumbprint } : {};
    },
    install: (key, o) => install(key, 'install', o),
    restore: (key, o) => install(key, 'restore', o),
  };
}

/** The `command` server kind. */
export const commandServer = defineServerKind({
  kind: 'command',
  schema: commandServerSchema,
  create: (target, server, deps) =>
    createCommandTarget(target, server, {
      keyMaterial: deps.keyMaterial,
      ...(deps.logger ? { logger: deps.logger } : {}),
      ...(deps.env ? { env: deps.env } : {}),
    }),
});

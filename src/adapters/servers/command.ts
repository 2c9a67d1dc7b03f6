/**
 * A `command` server target: certrotate runs the operator's program (without a shell) with `CERTROTATE_*`
 * variables saying what to do; with `pemFile: true` it also gets the key as a PEM file that exists only while the
 * program runs (mode 0600 in a fresh 0700 directory, removed afterwards even on failure).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { duration } from '../../config/fields.js';
import { scrubString } from '../../logging/scrub.js';
import { AdapterError, type CallOptions, type KeyRef, type ServerKeyTarget } from '../ports.js';
import type { KeyMaterial, KeyMaterialLoader } from '../azure/key-material.js';
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
async function pemBundle(material: KeyMaterial): Promise<string> {
  return (await import('../azure/key-material.js')).pemBundle(material);
}

/** What the program is asked to do (`CERTROTATE_ACTION`). */
export type CommandAction = 'install' | 'restore' | 'current';

/** Options of {@link createCommandTarget}. */
export interface CommandTargetOptions {
  /** Needed only with `pemFile: true`. */
  keyMaterial?: KeyMaterialLoader;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** The outcome of one run of the program. */
export interface CommandRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs `argv` without a shell, with `env`, killing it after `timeoutMs` (TERM, then KILL 2 s later). */
export function runProgram(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<CommandRun> {
  const [program, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(program!, args, { shell: false, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += d.toString('utf8');
    });
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 2000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', (exitCode, sig) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ exitCode, signal: sig, stdout, stderr, timedOut });
    });
  });
}

/** The last 40-hex-digit thumbprint the program printed, uppercase; undefined when it printed none. */
export function thumbprintInOutput(stdout: string): string | undefined {
  const all = stdout.match(/\b[0-9A-Fa-f]{40}\b/g);
  return all?.at(-1)?.toUpperCase();
}

/** A `command` {@link ServerKeyTarget}. */
export function createCommandTarget(
  target: string,
  server: CommandConfig,
  opts: CommandTargetOptions = {},
): ServerKeyTarget {
  const baseEnv = opts.env ?? process.env;

  async function run(action: CommandAction, key: KeyRef | undefined, o?: CallOptions): Promise<CommandRun> {
    if (o?.signal?.aborted) throw new AdapterError({ code: 'aborted', message: 'aborted', retryable: false });
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      CERTROTATE_TARGET: target,
      CERTROTATE_ACTION: action,
      ...(key ? { CERTROTATE_THUMBPRINT: key.thumbprint.toUpperCase(), CERTROTATE_SECRET_ID: key.secretId } : {}),
    };
    let dir: string | undefined;
    try {
      if (server.pemFile && key) {
        if (!opts.keyMaterial) throw new Error('pemFile needs a key material loader');
        const material = await opts.keyMaterial.load(key, o);
        dir = await mkdtemp(join(tmpdir(), 'certrotate-key-'));
        await chmod(dir, 0o700);
        const file = join(dir, 'key.pem');
        await writeFile(file, await pemBundle(material), { mode: 0o600, flag: 'wx' });
        env.CERTROTATE_PEM_FILE = file;
      }
      const result = await runProgram(server.run, env, server.timeout, o?.signal);
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
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  async function install(key: KeyRef, action: 'install' | 'restore', o?: CallOptions) {
    const result = await run(action, key, o);
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

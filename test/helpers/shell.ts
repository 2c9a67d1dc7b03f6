import { spawn } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './cli.js';

/** A directory holding a `certrotate` that runs this checkout's CLI with the test's Node, as `npm i -g` would. */
export async function certrotateOnPath(): Promise<string> {
  const bin = await mkdtemp(join(tmpdir(), 'certrotate-bin-'));
  await writeFile(join(bin, 'certrotate'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  await chmod(join(bin, 'certrotate'), 0o755);
  return bin;
}

/**
 * The environment a pipeline agent or an operator's shell has: `certrotate` on PATH, non-interactive (CI=true),
 * plus `extra` (config path and the like).
 */
export async function certrotateShellEnv(extra: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  const bin = await certrotateOnPath();
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, CI: 'true', ...extra };
}

/** Runs a bash script with the given shell flags, stdout and stderr interleaved as a person would see them. */
export function bash(
  script: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  flags: string[] = [],
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [...flags, '-c', script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { cliPath, runCli } from '../helpers/cli.js';

const builtCli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('certrotate CLI basics', () => {
  it('prints help with the global options and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: certrotate');
    for (const opt of ['--config', '--json', '--log-level', '--log-file', '--yes', '--no-color']) {
      expect(r.stdout).toContain(opt);
    }
  });

  it('prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('rejects an unknown command with exit 1 and no stack trace', async () => {
    const r = await runCli(['no-such-command']);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

/** Runs `node ...nodeArgs` without a TTY and collects stdout. */
function node(nodeArgs: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

/** What commander itself prints for `args`: main() of the built program, the launcher's saved answers bypassed. */
function commanderOutput(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const argv = JSON.stringify(['node', 'certrotate', ...args]);
  return node(['--input-type=module', '-e', `import(${JSON.stringify(builtCli)}).then((m) => m.main(${argv}))`]);
}

/** A command's help as commander formats it at `width` columns. */
function helpAt(cmd: Command, width: number): string {
  cmd.configureOutput({ getOutHelpWidth: () => width });
  return cmd.helpInformation();
}

describe('fast start: --help and --version answered without loading the program', () => {
  it.each([['--help'], ['-h'], ['--version'], ['-V']])(
    '`certrotate %s` prints exactly what commander prints',
    async (arg) => {
      const [fast, commander] = await Promise.all([runCli([arg]), commanderOutput([arg])]);
      expect(commander.code).toBe(0);
      expect(fast.code).toBe(0);
      expect(fast.stdout).toBe(commander.stdout);
    },
  );

  it('saved the help of the current program, valid on any terminal at least 80 columns wide', () => {
    const saved = JSON.parse(readFileSync(new URL('../../dist/startup.json', import.meta.url), 'utf8')) as {
      helpWidth: number;
      widthIndependent: boolean;
      help: string;
    };
    expect(saved.helpWidth).toBe(80);
    expect(saved.widthIndependent).toBe(true);
    for (const width of [80, 81, 120, 400]) expect(helpAt(buildProgram(), width), `width ${width}`).toBe(saved.help);
  });

  it('falls back to commander when the build left no startup.json', async () => {
    // A copy of the launcher next to a dist/ that has the compiled CLI but no saved answers.
    const root = await mkdtemp(join(tmpdir(), 'certrotate-nostartup-'));
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'dist'));
    await copyFile(cliPath, join(root, 'bin', 'certrotate.js'));
    await copyFile(fileURLToPath(new URL('../../package.json', import.meta.url)), join(root, 'package.json'));
    await symlink(builtCli, join(root, 'dist', 'cli.js'));
    const r = await node([join(root, 'bin', 'certrotate.js'), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(helpAt(buildProgram(), 80));
  });
});

describe('help text', () => {
  // Every line break is one written in the description, at a phrase boundary: commander never has to wrap at 80
  // columns (a pipe, or the narrowest usual terminal). `sandbox start` is described in src/commands/sandbox.ts.
  const commands = (cmd: Command): Command[] =>
    cmd.name() === 'sandbox' ? [] : [cmd, ...cmd.commands.flatMap(commands)];
  it.each(commands(buildProgram()).map((c) => [c.name(), c] as const))(
    '`%s --help` does not wrap at 80 columns',
    (_name, cmd) => {
      expect(helpAt(cmd, 80)).toBe(helpAt(cmd, 10_000));
    },
  );
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

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

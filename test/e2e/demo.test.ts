import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, runCli } from '../helpers/cli.js';

/** The sandbox directory the demo announced ("Sandbox ready: config DIR/certrotate.yaml"). */
function sandboxDir(stdout: string): string {
  const config = /Sandbox ready: config (\S+)/.exec(stdout)?.[1];
  expect(config, stdout).toBeDefined();
  return dirname(config!);
}

describe('certrotate demo', () => {
  it(
    'starts a sandbox, scans, rotates contoso-api with visible progress, scans again and exits 0',
    { timeout: 120_000 },
    async () => {
      const r = await runCli(['demo'], { timeoutMs: 110_000 });
      expect(r.code, r.stderr).toBe(0);
      const out = r.stdout;
      // The steps are shown as they happen, in order, then the summary and the second scan.
      const order = [
        '$ certrotate scan',
        '→ generateCertificate started',
        '✓ attachKeyCredential succeeded',
        '✓ retireOldKey succeeded',
        '— succeeded',
        'old key:',
        'new key:',
        'total:',
      ];
      let at = 0;
      for (const marker of order) {
        const i = out.indexOf(marker, at);
        expect(i, `"${marker}" after position ${at}`).toBeGreaterThanOrEqual(0);
        at = i;
      }
      const scans = out.split('$ certrotate scan');
      expect(scans).toHaveLength(3);
      expect(scans[1]).toMatch(/EXPIRES\s+DAYS\s+STATUS/);
      expect(scans[1]).toMatch(/contoso-api\s+keyvault\s+certificate\s+[0-9A-F]{40}\s+\d{4}-\d\d-\d\d\s+29\s+due/);
      expect(scans[2]).toMatch(/contoso-api\s+keyvault\s+certificate\s+[0-9A-F]{40}\s+\d{4}-\d\d-\d\d\s+\d{3}\s+ok/);
      // The due Power Pages target: parked with the admin center's instructions, Update key, then the resume.
      const portal = out.slice(out.indexOf('$ certrotate rotate contoso-portal --yes'));
      expect(portal).toMatch(/⏸ awaitingOperator parked — In the Power Platform admin center/);
      expect(portal).toContain('Website Authentication Key → Update key');
      expect(portal).toMatch(/# Power Platform admin center → the site → Update key/);
      expect(portal).toMatch(
        /\$ certrotate resume \S+contoso-portal\S+ --yes\nRun \S+ — target contoso-portal — succeeded/,
      );
      expect(scans[2]).toMatch(
        /contoso-portal\s+power-pages\s+certificate\s+[0-9A-F]{40}\s+\d{4}-\d\d-\d\d\s+\d{3}\s+ok/,
      );
      // The sandbox directory (it holds the sandbox's client secret) is gone.
      expect(existsSync(sandboxDir(out))).toBe(false);
      expect(out).not.toMatch(/PRIVATE KEY|eyJ[A-Za-z0-9_-]{10,}\./);
    },
  );

  it('prints one JSON document with --json', { timeout: 120_000 }, async () => {
    const r = await runCli(['--json', 'demo'], { timeoutMs: 110_000 });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { rotation: { outcome: string; oldThumbprint: string; newThumbprint: string } };
    expect(doc.rotation.outcome).toBe('succeeded');
    expect(doc.rotation.newThumbprint).not.toBe(doc.rotation.oldThumbprint);
  });

  it(
    'with --storage keeps the run state in blob storage, where a second agent process sees and respects it',
    { timeout: 150_000 },
    async () => {
      const r = await runCli(['demo', '--storage'], { timeoutMs: 140_000 });
      expect(r.code, r.stderr).toBe(0);
      const runId = /■ run (\S+) succeeded/.exec(r.stdout)?.[1];
      expect(runId).toMatch(/contoso-api/);
      // Agent B is another process with no local state: it lists agent A's run from the container ...
      const [, agentB] = r.stdout.split('# agent B');
      expect(agentB).toMatch(new RegExp(`${runId}\\s+contoso-api\\s+succeeded`));
      // ... and its own rotation reads the world first: the key A installed is not due.
      expect(r.stdout).toMatch(/# agent B\n— noChange: key [0-9A-F]{40} expires \S+: not due/);
      expect(r.stdout).not.toMatch(/PRIVATE KEY|eyJ[A-Za-z0-9_-]{10,}\./);
    },
  );

  it('on SIGTERM removes its sandbox directory and exits 130', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [cliPath, 'demo'], {
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('$ certrotate scan')) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('SIGTERM: demo stopped; removing the sandbox and its directory');
    expect(existsSync(sandboxDir(stdout))).toBe(false);
  });
});

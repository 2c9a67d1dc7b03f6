import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import { bash, certrotateShellEnv } from '../helpers/shell.js';
import { runnableBlocks } from '../helpers/runbook-blocks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const runbookDir = join(root, 'runbooks');

async function markdownFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await markdownFiles(path)));
    else if (entry.name.endsWith('.md')) out.push(path);
  }
  return out.sort();
}

const files = await markdownFiles(runbookDir);

describe('runbooks: every ```sh runnable block runs against a fresh sandbox', () => {
  it('has runbooks with runnable blocks', async () => {
    const counts = await Promise.all(files.map(async (f) => (await runnableBlocks(f)).length));
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
  });

  for (const file of files) {
    it(relative(root, file), { timeout: 240_000 }, async () => {
      const blocks = await runnableBlocks(file);
      if (blocks.length === 0) return;
      const sandbox = await startSandbox({
        propagationDelaySeconds: 1,
        kvCreateDelaySeconds: 1,
        siteRestartSeconds: 2,
        // As `certrotate sandbox start` (the rehearsal the README describes): the operator may read Dataverse.
        identity: { operatorReads: true },
      });
      try {
        const env = await certrotateShellEnv({
          CONFIG: sandbox.configPath,
          CERTROTATE_CONFIG: sandbox.configPath,
          ADMIN: sandbox.adminUrl,
          CA: join(sandbox.dir, 'ca.pem'),
          WORK: sandbox.dir,
        });
        // One shell for the whole runbook, as an operator would type it: variables carry from block to block.
        const script = [
          'set -euo pipefail',
          ...blocks.map((b) => `echo "### ${relative(root, b.file)}:${b.line}"\n${b.code}`),
        ].join('\n');
        const r = await bash(script, env, sandbox.dir);
        if (r.code !== 0) {
          const failed = [...r.output.matchAll(/### (\S+)/g)].pop()?.[1];
          throw new Error(`runbook block ${failed ?? '?'} failed (exit ${r.code}):\n${r.output.slice(-4000)}`);
        }
        expect(r.output).not.toMatch(/PRIVATE KEY-----/);
      } finally {
        await sandbox.stop();
      }
    });
  }
});

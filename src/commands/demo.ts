import { rmSync } from 'node:fs';
import { ExitCode } from '../exit-codes.js';
import { CommandContext } from './context.js';
import { runSummary } from './progress.js';
import { table } from './runs.js';

/** Captures what a command prints, so the demo can show it in its own order (and as one JSON document). */
class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/**
 * `demo`: a sandbox, a scan, a full rotation of its due keyvault target without prompts (each step shown as it
 * happens), a scan again and a summary, then the sandbox stops. Needs no Azure tenant.
 */
export async function demoCommand(ctx: CommandContext, opts: { storage?: boolean } = {}): Promise<number> {
  const say = (line: string) => {
    if (!ctx.options.json) process.stdout.write(`${line}\n`);
  };
  say('Starting the local Azure sandbox (Entra ID, Graph, Key Vault, Dataverse, Power Platform, app servers)…');
  const { startSandbox } = await import('../sandbox/index.js');
  const sandbox = await startSandbox({
    propagationDelaySeconds: 2,
    siteRestartSeconds: 1,
    kvCreateDelaySeconds: 1,
    ...(opts.storage ? { storage: true } : {}),
  });
  // The sandbox's directory holds its operator client secret: it goes on success, on failure and on Ctrl-C/SIGTERM.
  const removeDir = () => rmSync(sandbox.dir, { recursive: true, force: true });
  const onSignal = (name: NodeJS.Signals) => {
    process.stderr.write(`\n${name}: demo stopped; removing the sandbox and its directory\n`);
    // A stuck stop must not keep the secret on disk: the directory goes first, the process ends within 5 s.
    removeDir();
    setTimeout(() => process.exit(ExitCode.interrupted), 5_000).unref();
    void sandbox
      .stop()
      .catch(() => undefined)
      .finally(() => process.exit(ExitCode.interrupted));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The `$` lines below are the commands as typed in the sandbox's directory; here each runs with its config.
    say(`Sandbox ready: config ${sandbox.configPath}`);
    say(`Each command below runs with --config ${sandbox.configPath}.\n`);
    if (sandbox.storage) {
      say(
        `Run state is shared in blob container ${sandbox.storage.container} at ${sandbox.storage.accountUrl} (Azurite):`,
      );
      say('this process is agent A; agent B below is another process with no local state at all.\n');
    }
    const sub = (stdout: Capture) =>
      new CommandContext(
        {
          ...ctx.options,
          config: sandbox.configPath,
          json: true,
          yes: true,
          // The progress lines tell the story; adapter info logs would interleave with them. --log-level debug shows all.
          logLevel: ctx.options.logLevel === 'info' ? 'warn' : ctx.options.logLevel,
        },
        { ...ctx.env, CI: 'true' },
        stdout as unknown as NodeJS.WritableStream,
      );
    const { scanCommand } = await import('./scan.js');
    const { rotateCommand } = await import('./rotate.js');
    const { progressWriter } = await import('./progress.js');

    const scanBefore = new Capture();
    await scanCommand(sub(scanBefore), {});
    const before = JSON.parse(scanBefore.text) as { targets: unknown[] };
    say('$ certrotate scan');
    say(scanTable(before.targets));

    say('\n$ certrotate rotate contoso-api --yes');
    const rotation = new Capture();
    const rotateCtx = sub(rotation);
    const started = Date.now();
    // Progress goes to the demo's own stdout as each step happens.
    const progress = progressWriter(ctx.options.json ? process.stderr : process.stdout, sandbox.configPath);
    const code = await rotateCommand(rotateCtx, 'contoso-api', { progress });
    const doc = JSON.parse(rotation.text) as Parameters<typeof runSummary>[0];
    say('');
    say(runSummary(doc));
    say(`  total: ${((Date.now() - started) / 1000).toFixed(1)}s`);

    // The due Power Pages target: the platform holds its key, so the run parks for the admin center's Update key.
    say('\n$ certrotate rotate contoso-portal --yes');
    const parkedOut = new Capture();
    const parkedCode = await rotateCommand(sub(parkedOut), 'contoso-portal', { progress });
    const parked = JSON.parse(parkedOut.text) as Parameters<typeof runSummary>[0];
    say('');
    say(runSummary(parked));
    let portal = { parked, resumed: undefined as Parameters<typeof runSummary>[0] | undefined };
    let portalCode = parkedCode;
    const site = sandbox.targets.find((t) => t.name === 'contoso-portal');
    if (parkedCode === ExitCode.parked && site?.websiteId) {
      // What the operator does in the Power Platform admin center; the sandbox's admin center answers it here.
      say('\n# Power Platform admin center → the site → Update key (done here in the sandbox)');
      await sandbox.sites.updateKey(site.websiteId);
      say(`\n$ certrotate resume ${parked.runId} --yes`);
      const { resumeCommand } = await import('./resume.js');
      const resumedOut = new Capture();
      portalCode = await resumeCommand(sub(resumedOut), parked.runId, 'resume');
      const resumed = JSON.parse(resumedOut.text) as Parameters<typeof runSummary>[0];
      portal = { parked, resumed };
      say(runSummary(resumed));
    }

    let agentB: { runs: unknown; rotate: unknown } | undefined;
    if (sandbox.storage) {
      // Agent B: a separate certrotate process. It sees A's run in the container, and its rotation of the same target
      // reads the world and the shared runs first: the key A just installed is not due.
      say('\n$ certrotate runs --target contoso-api   # agent B');
      const runs = await agentCli(sandbox.configPath, ['runs', '--target', 'contoso-api']);
      say(runs.stdout.trimEnd());
      say('\n$ certrotate rotate contoso-api --yes    # agent B');
      const again = await agentCli(sandbox.configPath, ['--json', 'rotate', 'contoso-api', '--yes']);
      const againDoc = JSON.parse(again.stdout) as { outcome: string; message?: string };
      say(`— ${againDoc.outcome}${againDoc.message ? `: ${againDoc.message}` : ''}`);
      agentB = {
        runs: JSON.parse((await agentCli(sandbox.configPath, ['--json', 'runs', '--target', 'contoso-api'])).stdout),
        rotate: againDoc,
      };
    }

    const scanAfter = new Capture();
    await scanCommand(sub(scanAfter), {});
    const after = JSON.parse(scanAfter.text) as { targets: unknown[] };
    say('\n$ certrotate scan');
    say(scanTable(after.targets));
    say('\nDone. The sandbox stops now; `certrotate sandbox start` keeps one running to try commands by hand.');
    ctx.print(
      { formatVersion: 1, scanBefore: before, rotation: doc, portal, ...(agentB ? { agentB } : {}), scanAfter: after },
      () => '',
    );
    return code !== ExitCode.ok ? code : portalCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      await sandbox.stop();
    } finally {
      removeDir();
    }
  }
}

function scanTable(rows: unknown[]): string {
  const r = rows as {
    name: string;
    kind: string;
    credential: string;
    thumbprint: string | null;
    expiresOn: string | null;
    daysLeft: number | null;
    status: string;
  }[];
  // The columns of `certrotate scan`, which the demo says it ran.
  const lines = [['TARGET', 'KIND', 'CREDENTIAL', 'THUMBPRINT', 'EXPIRES', 'DAYS', 'STATUS']];
  for (const t of r)
    lines.push([
      t.name,
      t.kind,
      t.credential,
      t.thumbprint ?? '-',
      t.expiresOn?.slice(0, 10) ?? '-',
      t.daysLeft === null ? '-' : String(t.daysLeft),
      t.status,
    ]);
  return table(lines);
}

/** Runs certrotate as another process (agent B) against the same config: no shared memory, no local state dir. */
async function agentCli(config: string, args: string[]): Promise<{ code: number; stdout: string }> {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../bin/certrotate.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, '--config', config, ...args],
      { env: { ...process.env, CI: 'true' }, timeout: 120_000 },
      (err, stdout) => {
        const code = err && typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 0;
        if (err && code === 0) reject(err);
        else resolve({ code, stdout });
      },
    );
  });
}

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
export async function demoCommand(ctx: CommandContext): Promise<number> {
  const say = (line: string) => {
    if (!ctx.options.json) process.stdout.write(`${line}\n`);
  };
  say('Starting the local Azure sandbox (Entra ID, Graph, Key Vault, Dataverse, Power Platform, app servers)…');
  const { startSandbox } = await import('../sandbox/index.js');
  const sandbox = await startSandbox({ propagationDelaySeconds: 2, kvCreateDelaySeconds: 1 });
  try {
    say(`Sandbox ready: config ${sandbox.configPath}\n`);
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
    const progress = progressWriter(ctx.options.json ? process.stderr : process.stdout);
    const code = await rotateCommand(rotateCtx, 'contoso-api', { progress });
    const doc = JSON.parse(rotation.text) as Parameters<typeof runSummary>[0];
    say('');
    say(runSummary(doc));
    say(`  total: ${((Date.now() - started) / 1000).toFixed(1)}s`);

    const scanAfter = new Capture();
    await scanCommand(sub(scanAfter), {});
    const after = JSON.parse(scanAfter.text) as { targets: unknown[] };
    say('\n$ certrotate scan');
    say(scanTable(after.targets));
    say('\nDone. The sandbox stops now; `certrotate sandbox start` keeps one running to try commands by hand.');
    ctx.print({ formatVersion: 1, scanBefore: before, rotation: doc, scanAfter: after }, () => '');
    return code;
  } finally {
    await sandbox.stop();
  }
}

function scanTable(rows: unknown[]): string {
  const r = rows as {
    name: string;
    kind: string;
    credential: string;
    thumbprint: string | null;
    daysLeft: number | null;
    status: string;
  }[];
  const lines = [['TARGET', 'KIND', 'CREDENTIAL', 'THUMBPRINT', 'DAYS', 'STATUS']];
  for (const t of r)
    lines.push([
      t.name,
      t.kind,
      t.credential,
      t.thumbprint ?? '-',
      t.daysLeft === null ? '-' : String(t.daysLeft),
      t.status,
    ]);
  return table(lines);
}

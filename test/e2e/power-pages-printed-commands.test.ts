/**
 * Every `certrotate …` command printed for a person to run carries the `--config` in use (issue 10, defect 9): a
 * Power Pages rotation under a config that is not the default `certrotate.yaml` (a path with a space, so it is also
 * quoted) parks for Update key, is resumed and is shown — on stderr (progress lines) and on stdout (summaries, `show`)
 * alike. The progress lines of the whole rotation are snapshot-tested, one per step (defect 5).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, editConfig, startE2eSandbox, type Sandbox } from '../helpers/sandbox.js';
import { portal, pressUpdateKey, siteRunning } from './power-pages-support.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** A tmux server of this test file's own, so no one else's sessions are touched. */
const SOCKET = `certrotate-printed-${process.pid}`;
const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args]);
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Guided mode needs a terminal: the CLI runs in a tmux window (CI unset, no --yes) wide enough that no message wraps,
 * kept open after exit so its last screen can be read.
 */
async function guided(label: string, config: string, args: string[]) {
  // Unique on the machine's one tmux server: other test files (guided-rotate) may run beside this one.
  const name = `printed-${label}-${process.pid}`;
  const command =
    `env -u CI ${shellQuote(`${ROOT}node_modules/.bin/node`)} ${shellQuote(`${ROOT}bin/certrotate.js`)} ` +
    `--config ${shellQuote(config)} ${args.map(shellQuote).join(' ')}; echo "EXIT=$?"; sleep 600`;
  await tmux('new-session', '-d', '-s', name, '-x', '1000', '-y', '80', '-c', ROOT, command);
  const screen = async () => (await tmux('capture-pane', '-p', '-J', '-S', '-3000', '-t', name)).stdout;
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await screen();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} on screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  return { screen, waitFor, keys: (...keys: string[]) => tmux('send-keys', '-t', name, ...keys) };
}

/** A question of guided mode waiting for its answer (No preselected). */
const ASKING = /│ {2}○ Yes \/ ● No \(park the run\)/;

/** The subcommands a printed command can name (not `sandbox`: no config applies to it). */
const COMMAND = /certrotate (resume|rollback|show|scan|rotate|plan|abandon|prune|unlock|runs|identity)\b([^`\n]*)/g;

/** Each printed certrotate command in `text` with what follows it up to a backtick or the end of its line. */
function printedCommands(text: string): string[] {
  return [...text.matchAll(COMMAND)].map((m) => m[0]);
}

describe('printed commands carry the --config in use (power-pages park, resume, show)', () => {
  let sb: Sandbox;
  let config: string;
  /** The config path as a shell needs it. */
  let quoted: string;

  beforeAll(async () => {
    sb = await startE2eSandbox({ siteRestartSeconds: 1 });
    config = await editConfig(sb, 'prod config.yaml', () => undefined);
    quoted = `'${config}'`;
  });
  afterAll(() => sb?.stop());

  it('rotate parks, resume finishes: every command on stdout and stderr names the config', async () => {
    const parked = await cli(config, ['rotate', 'contoso-portal', '--yes']);
    expect(parked.code, parked.stderr).toBe(3);
    const runId = /Run (\S+) — target contoso-portal — awaitingOperator/.exec(parked.stdout)?.[1];
    expect(runId, parked.stdout).toBeDefined();
    const stderrLines = (text: string) =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.replaceAll(runId!, 'RUN_ID').replace(/until \d{4}-\S+/, 'until TIME'));
    expect(stderrLines(parked.stderr)).toMatchInlineSnapshot(`
      [
        "identity: not checked (could not read systemusers: grant Read on systemusers to certrotate's application user)",
        "→ observeTarget started",
        "✓ observeTarget succeeded",
        "⏸ awaitingOperator parked — In the Power Platform admin center (https://admin.powerplatform.microsoft.com): Manage → Power Pages → site "contoso-portal" in environment "contoso-prod" → ...",
      ]
    `);
    // The park's message and the next line, each with the config.
    expect(parked.stdout).toContain(`Then run \`certrotate resume ${runId} --config ${quoted}\`: it waits up to`);
    expect(parked.stdout).toContain(`  next: certrotate resume ${runId} --config ${quoted}`);

    // A second rotate beside the parked run is refused (exit 4) naming the command that continues it.
    const busy = await cli(config, ['rotate', 'contoso-portal', '--yes']);
    expect(busy.code).toBe(4);

    await pressUpdateKey(sb, portal(sb).websiteId);
    await siteRunning(sb);
    const resumed = await cli(config, ['resume', runId!, '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stderrLines(resumed.stderr)).toMatchInlineSnapshot(`
      [
        "→ detectPlatformKey started",
        "✓ detectPlatformKey succeeded",
        "→ verifyNewKey started",
        "… verifyNewKey waiting — for 2 more healthy answers from the site, 5 s apart (one can come from the old process mid-restart) until TIME",
        "✓ verifyNewKey succeeded",
        "→ retireOldKey started",
        "✓ retireOldKey succeeded",
        "■ run RUN_ID succeeded",
      ]
    `);

    const shown = await cli(config, ['show', runId!]);
    expect(shown.code, shown.stderr).toBe(0);

    const all = [parked, busy, resumed, shown].flatMap((r) => [r.stdout, r.stderr]).join('\n');
    const commands = printedCommands(all);
    expect(commands.length, all).toBeGreaterThanOrEqual(4);
    for (const command of commands) expect(command, all).toContain(` --config ${quoted}`);
  }, 120_000);
});

describe('guided screens carry the --config in use (power-pages park and resume in a terminal)', () => {
  let sb: Sandbox;
  let config: string;
  let quoted: string;

  beforeAll(async () => {
    await run('tmux', ['-V']);
    sb = await startE2eSandbox({ siteRestartSeconds: 1 });
    config = await editConfig(sb, 'guided config.yaml', () => undefined);
    quoted = `'${config}'`;
  });
  afterAll(async () => {
    await tmux('kill-server').catch(() => undefined);
    await sb?.stop();
  });

  it('the intro, the park, the next action and the resume screen name the config in every command', async () => {
    // No at the first question parks the run (exit 3) with the admin center's steps and the command that continues.
    const rotate = await guided('rotate', config, ['rotate', 'contoso-portal']);
    await rotate.waitFor(ASKING);
    await rotate.keys('n');
    const parked = await rotate.waitFor(/EXIT=\d+/);
    expect(parked, parked).toContain('EXIT=3');
    const runId = /Continue with: certrotate resume (\S+)/.exec(parked)?.[1];
    expect(runId, parked).toMatch(/contoso-portal/);
    expect(parked).toContain(`┌  certrotate rotate contoso-portal --config ${quoted}`);
    expect(parked).toContain(`Then run \`certrotate resume ${runId} --config ${quoted}\`: it waits up to`);
    expect(parked).toContain(
      `Continue with: certrotate resume ${runId} --config ${quoted}  (or withdraw it: certrotate rollback ${runId} ` +
        `--config ${quoted})`,
    );

    // The admin presses Update key; the guided resume says where the run stopped, then finds the key and retires.
    await pressUpdateKey(sb, portal(sb).websiteId);
    await siteRunning(sb);
    const resume = await guided('resume', config, ['resume', runId!]);
    const first = await resume.waitFor(ASKING);
    expect(first).toContain(`┌  certrotate resume ${runId} --config ${quoted}`);
    await resume.keys('y');
    await resume.waitFor(/Retire the old key\?\n(?:│.*\n)*?│ {2}○ Yes \/ ● No/);
    await resume.keys('y');
    const done = await resume.waitFor(/EXIT=\d+/);
    expect(done, done).toContain('EXIT=0');
    expect(done).toContain(`Nothing more to do. The timeline: certrotate show ${runId} --config ${quoted}`);

    const screens = `${parked}\n${done}`;
    const commands = printedCommands(screens);
    expect(commands.length, screens).toBeGreaterThanOrEqual(6);
    for (const command of commands) expect(command, screens).toContain(` --config ${quoted}`);
  }, 150_000);
});

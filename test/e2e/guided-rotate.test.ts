/**
 * Guided mode through a real pseudo-terminal: the CLI runs inside tmux (a TTY, CI unset, no --yes), the test reads
 * the screen with `capture-pane` and answers with `send-keys`. The plan is shown before anything changes, each
 * mutating step is asked for, a decline parks the run (exit 3) naming the command that continues it, a resumed run
 * finishes, and Ctrl-C — at a spinner or at a question — leaves a run that `resume` completes. A run started with
 * `--yes` and resumed guided asks again (the mode is the invocation's), and a run stopped at its first question is
 * closed by `abandon` (or `rollback`) instead of blocking its target.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkI1,
  cli,
  editConfig,
  getHistory,
  listRuns,
  parseJson,
  sandboxTarget,
  startE2eSandbox,
  targetState,
  type RunDocument,
  type Sandbox,
} from '../helpers/sandbox.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = `${ROOT}node_modules/.bin/node`;
const CLI = `${ROOT}bin/certrotate.js`;
/** A tmux server of this test file's own, so no one else's sessions are touched. */
const SOCKET = `certrotate-guided-${process.pid}`;

const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args]);

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** One CLI invocation in its own tmux window of 200×60, kept open after exit so its last screen can be read. */
class Terminal {
  /** Every distinct screen seen while waiting, to assert on frames that do not last (spinner lines). */
  readonly frames: string[] = [];

  private constructor(readonly name: string) {}

  static async open(label: string, config: string, args: string[], stdoutFile?: string): Promise<Terminal> {
    // Unique on the machine's one tmux server: other test files (power-pages-printed-commands) may run beside this one.
    const name = `guided-${label}-${process.pid}`;
    // CI unset: the machine running the tests may set it, and a set CI makes certrotate non-interactive.
    const command =
      `env -u CI ${quote(NODE)} ${quote(CLI)} --config ${quote(config)} ${args.map(quote).join(' ')}` +
      `${stdoutFile ? ` > ${quote(stdoutFile)}` : ''}; ` +
      `echo "EXIT=$?"; sleep 600`;
    await tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '60', '-c', ROOT, command);
    await tmux('set-option', '-t', name, 'history-limit', '5000');
    return new Terminal(name);
  }

  /** The whole screen and its scrollback, as plain text. */
  async screen(): Promise<string> {
    const { stdout } = await tmux('capture-pane', '-p', '-J', '-S', '-3000', '-t', this.name);
    if (this.frames.at(-1) !== stdout) this.frames.push(stdout);
    return stdout;
  }

  /** Waits until the screen matches `pattern`; fails with the last screen. */
  async waitFor(pattern: RegExp, timeoutMs = 45_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.screen();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} on screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** Sends keys as tmux names them (`y`, `Enter`, `C-c`). */
  async keys(...keys: string[]): Promise<void> {
    await tmux('send-keys', '-t', this.name, ...keys);
  }

  /** Waits for the CLI's exit code (the `echo` after it). */
  async exitCode(timeoutMs = 60_000): Promise<number> {
    const text = await this.waitFor(/EXIT=\d+/, timeoutMs);
    return Number(/EXIT=(\d+)/.exec(text)![1]);
  }

  async close(): Promise<void> {
    await tmux('kill-session', '-t', this.name).catch(() => undefined);
  }
}

/** A question of guided mode is on screen and waiting: clack's active prompt, No selected, below its summary lines. */
const asking = (question: string) =>
  new RegExp(`${question.replace(/[?.]/g, '\\$&')}\\n(?:│.*\\n)*?│ {2}○ Yes / ● No \\(park the run\\)`);

describe('guided rotate in a terminal', () => {
  let sb: Sandbox;
  let oldThumbprint: string;
  let parkedRunId: string;
  const terminals: Terminal[] = [];
  const open = async (name: string, args: string[], stdoutFile?: string) => {
    const t = await Terminal.open(name, sb.configPath, args, stdoutFile);
    terminals.push(t);
    return t;
  };

  beforeAll(async () => {
    await run('tmux', ['-V']);
    // Entra takes 4 s to accept a new key, so the run visibly waits and retries.
    sb = await startE2eSandbox({ propagationDelaySeconds: 4, targets: 2 });
    oldThumbprint = (await targetState(sb, 'contoso-api')).server!.thumbprint;
  });
  afterAll(async () => {
    for (const t of terminals) await t.close();
    await tmux('kill-server').catch(() => undefined);
    await sb?.stop();
  });

  it('shows the plan, asks before each change, spins while Entra propagates, and a decline parks the run with exit 3 and the resume command', async () => {
    const term = await open('decline', ['rotate', 'contoso-api']);
    const plan = await term.waitFor(asking('Generate a new certificate?'));
    // The plan, before any question: the key in use with its expiry, what is created, changed and removed.
    expect(plan).toMatch(/Plan for contoso-api \(keyvault\): \d+ change\(s\)/);
    expect(plan).toMatch(new RegExp(`Key in use: ${oldThumbprint}, expires \\d{4}-\\d{2}-\\d{2} \\(\\d+ days left\\)`));
    expect(plan).toContain('New key:    expires about');
    expect(plan).toMatch(/Will create:[\s\S]*\+ generateCertificate[\s\S]*\+ attachKeyCredential/);
    expect(plan).toMatch(/Will change:[\s\S]*~ installServerKey/);
    expect(plan).toMatch(new RegExp(`Will remove:[\\s\\S]*- retireOldKey: remove old key ${oldThumbprint}`));
    expect(plan).toContain('create a new version of Key Vault certificate contoso-s2s');
    // Nothing changed while the question waits: the vault still holds only the seeded version.
    expect((await targetState(sb, 'contoso-api')).versions).toHaveLength(1);

    await term.keys('y');
    const attach = await term.waitFor(asking('Attach the new key to the app registration?'));
    expect(attach).toMatch(/◇ {2}Generate the new certificate/);
    expect(attach).toMatch(new RegExp(`add key [0-9A-F]{40} to app \\S+ \\(key ${oldThumbprint} stays\\)`));
    await term.keys('y');
    // Entra needs 4 s: the spinner says what it waits for, the attempt and the time to it, and the elapsed time.
    await term.waitFor(/Wait for Entra ID to accept the new key: waiting for Entra ID to propagate the new key/);
    await term.waitFor(/attempt \d+ in \d+s \(after keyNotFound\)/);
    const install = await term.waitFor(asking('Install the new key on the server?'), 60_000);
    expect(install).toMatch(/◇ {2}Wait for Entra ID to accept the new key, \d+ attempts \[\d+s\]/);
    expect(term.frames.some((f) => /◒|◐|◓|◑/.test(f))).toBe(true);

    await term.keys('n');
    expect(await term.exitCode()).toBe(3);
    const end = await term.screen();
    expect(end).toContain('Declined: the run parks here');
    expect(end).toMatch(/Parked: /);
    const runId = /Continue with: certrotate resume (\S+)/.exec(end)?.[1];
    expect(runId, end).toMatch(/contoso-api/);
    parkedRunId = runId!;
    expect(end).toContain(`certrotate rollback ${parkedRunId}`);

    // Declined before the install: the new key is on the app beside the old one, the server still uses the old one.
    const { app, server } = await targetState(sb, 'contoso-api');
    expect(app.keyCredentials).toHaveLength(2);
    expect(app.keyCredentials.map((k) => k.thumbprint)).toContain(oldThumbprint);
    expect(server!.thumbprint).toBe(oldThumbprint);
    expect((await listRuns(sb.configPath)).find((r) => r.runId === parkedRunId)?.outcome).toBe('awaitingOperator');
  });

  it('resumes the parked run guided: each remaining question answered, the summary and exit 0', async () => {
    const term = await open('resume', ['resume', parkedRunId]);
    const first = await term.waitFor(asking('Install the new key on the server?'));
    expect(first).toContain(`certrotate resume ${parkedRunId}`);
    expect(first).toMatch(/the run is parked \(awaitingOperator\)/);
    await term.keys('y');
    await term.waitFor(asking('Retire the old key?'));
    await term.keys('y');
    expect(await term.exitCode()).toBe(0);
    const end = await term.screen();
    expect(end).toContain('Rotated contoso-api: the new key is in use and the old one is retired');
    expect(end).toMatch(/✓ Install the new key on the server +succeeded/);
    expect(end).toMatch(/✓ Retire the old key +succeeded/);
    expect(end).toContain(`Nothing more to do. The timeline: certrotate show ${parkedRunId}`);
    expect(end).toMatch(/◇ {2}Retire the old key — old key [0-9A-F]{40} removed \[\d+s\]/);

    const { app, server } = await targetState(sb, 'contoso-api');
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([server!.thumbprint]);
    expect(server!.thumbprint).not.toBe(oldThumbprint);
    const t = sandboxTarget(sb, 'contoso-api');
    expect(checkI1(await getHistory(sb), { appId: t.appId, server: 'contoso-api' })).toEqual([]);
  });

  it('Ctrl-C at a spinner and at a question stops the run resumable and says how to resume', async () => {
    const term = await open('interrupt', ['rotate', 'fabrikam-api', '--force']);
    await term.waitFor(asking('Generate a new certificate?'));
    await term.keys('y');
    await term.waitFor(asking('Attach the new key to the app registration?'));
    await term.keys('y');
    // While the spinner waits for Entra (raw mode: the key arrives as a byte, not as a signal).
    await term.waitFor(/attempt \d+ in \d+s/);
    await term.keys('C-c');
    // 130: interrupted by Ctrl-C, resumable (DESIGN §5).
    expect(await term.exitCode()).toBe(130);
    const stopped = await term.screen();
    expect(stopped).toContain('SIGINT: stopping; the run can be resumed');
    const runId = /Resume with: certrotate resume (\S+)/.exec(stopped)?.[1];
    expect(runId, stopped).toMatch(/fabrikam-api/);
    expect((await listRuns(sb.configPath)).find((r) => r.runId === runId)?.outcome).toBeNull();

    const again = await open('interrupt-again', ['resume', runId!]);
    await again.waitFor(asking('Install the new key on the server?'), 60_000);
    await again.keys('C-c');
    expect(await again.exitCode()).toBe(130);
    const atQuestion = await again.screen();
    expect(atQuestion).toContain(`Resume with: certrotate resume ${runId}`);
    // Named in words: the question it was asking, never the machine's state.
    expect(atQuestion).toContain('Interrupted at the question “Install the new key on the server?”');
    expect(atQuestion).not.toMatch(/installing\.|\.running|\.confirming/);

    // A pipeline finishes it: the interrupted run resumes without a prompt and converges.
    const done = await cli(sb.configPath, ['--json', 'resume', runId!, '--yes']);
    expect(done.code, done.stderr).toBe(0);
    const doc = parseJson<RunDocument>(done);
    expect(doc.outcome).toBe('succeeded');
    const { app, server } = await targetState(sb, 'fabrikam-api');
    expect(app.keyCredentials.map((k) => k.thumbprint)).toEqual([doc.newThumbprint]);
    expect(server!.thumbprint).toBe(doc.newThumbprint);
  });

  it('with --json asks on the terminal and leaves only the result document on stdout (a Power Pages target)', async () => {
    const out = join(sb.dir, 'guided-portal.json');
    const term = await open('portal-json', ['--json', 'rotate', 'contoso-portal'], out);
    const question = await term.waitFor(asking('Update the site’s key in the admin center, then wait here?'));
    expect(question).toMatch(/Plan for contoso-portal \(power-pages\)/);
    expect(question).toMatch(/! updateKey: an admin presses Update key/);
    expect(question).toContain('Update key → OK');
    // The identity verdict (informational): this sandbox's operator may not read Dataverse, and the run goes on.
    expect(question).toMatch(/● {2}identity: not checked \(could not read systemusers: .+\)/);
    await term.keys('n');
    expect(await term.exitCode()).toBe(3);
    const doc = JSON.parse(await readFile(out, 'utf8')) as RunDocument;
    expect(doc).toMatchObject({ formatVersion: 1, target: 'contoso-portal', outcome: 'awaitingOperator' });
    expect(await term.screen()).toContain(`Continue with: certrotate resume ${doc.runId}`);
  });
  it('a run started with --yes asks again when resumed guided: the retirement waits for its answer', async () => {
    const grace = await editConfig(sb, 'grace.yaml', (d) => d.setIn(['defaults', 'retireAfter'], '2s'));
    const started = await cli(grace, ['--json', 'rotate', 'bench-0001', '--yes']);
    expect(started.code, started.stderr).toBe(3);
    const doc = parseJson<RunDocument>(started);
    expect(doc.outcome).toBe('awaitingRetirement');
    await new Promise((r) => setTimeout(r, 2_500));

    const term = await Terminal.open('yes-then-guided', grace, ['resume', doc.runId]);
    terminals.push(term);
    const question = await term.waitFor(asking('Retire the old key?'));
    expect(question).toContain('Each remaining change is asked for first');
    await term.keys('n');
    expect(await term.exitCode()).toBe(3);
    // Declined: the old key is still on the app beside the new one.
    expect((await targetState(sb, 'bench-0001')).app.keyCredentials).toHaveLength(2);
    // The journal records each invocation's mode and who answered each gate.
    const shown = await cli(grace, ['--json', 'show', doc.runId]);
    const journal = parseJson<{ journal: { event: string; step: string; by?: string; confirmation?: string }[] }>(
      shown,
    ).journal;
    expect(journal.filter((l) => l.step === 'run').map((l) => `${l.event} ${l.confirmation}`)).toEqual([
      'started yes',
      'resumed guided',
    ]);
    expect(
      journal.filter((l) => l.event === 'confirmed' || l.event === 'declined').map((l) => `${l.step} ${l.by}`),
    ).toEqual(['generating yes', 'attaching yes', 'installing yes', 'retiring operator']);

    // A changed run cannot be abandoned: exit 1, naming what it changed and the commands that deal with it.
    const refused = await cli(grace, ['abandon', doc.runId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already changed the target');
    expect(refused.stderr).toContain(`certrotate rollback ${doc.runId}`);
    expect(refused.stderr).toContain(`certrotate resume ${doc.runId}`);
  });

  it('Ctrl-C at the first question leaves a run that blocks the target until abandon (or rollback) closes it', async () => {
    const stopAtFirstQuestion = async (name: string) => {
      const term = await open(name, ['rotate', 'bench-0002']);
      await term.waitFor(asking('Generate a new certificate?'));
      await term.keys('C-c');
      expect(await term.exitCode()).toBe(130);
      const runId = /Resume with: certrotate resume (\S+)/.exec(await term.screen())?.[1];
      expect(runId).toMatch(/bench-0002/);
      return runId!;
    };
    const first = await stopAtFirstQuestion('first-question');
    const blocked = await cli(sb.configPath, ['rotate', 'bench-0002', '--yes']);
    expect(blocked.code).toBe(4);
    expect(blocked.stderr).toContain(first);

    const abandoned = await cli(sb.configPath, ['--json', 'abandon', first]);
    expect(abandoned.code, abandoned.stderr).toBe(0);
    expect(parseJson<RunDocument>(abandoned)).toMatchObject({ runId: first, outcome: 'abandoned' });
    const shown = parseJson<{ journal: { event: string }[] }>(await cli(sb.configPath, ['--json', 'show', first]));
    expect(shown.journal.map((l) => l.event).slice(-2)).toEqual(['abandonRequested', 'abandoned']);
    expect((await targetState(sb, 'bench-0002')).versions).toHaveLength(1);

    // The same stop closed by rollback: nothing to undo, so it is closed; then the target rotates.
    const second = await stopAtFirstQuestion('first-question-again');
    const rolledBack = await cli(sb.configPath, ['--json', 'rollback', second, '--yes']);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(parseJson<RunDocument>(rolledBack).outcome).toBe('abandoned');
    const rotated = await cli(sb.configPath, ['--json', 'rotate', 'bench-0002', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
  });
});

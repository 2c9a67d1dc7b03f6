/**
 * Issue 16, "how it is checked": two agents with different state directories (two pipeline agents, two laptops)
 * rotate and resume the same keyvault targets in random interleavings, and are SIGKILLed at random moments (the whole
 * process group, as a cancelled pipeline job is). Then, as an operator would, every open run is resumed (or
 * abandoned) and orphans are pruned until every target settles. Afterwards: every app holds exactly the key its
 * server uses plus at most one in flight, no server ever moved to an older key (only an undo of its last move goes
 * back), I1 held throughout, and `scan --detailed-exitcode` reports no `orphaned`.
 *
 * The interleaving comes from a seeded PRNG; the seed is printed, and `CERTROTATE_RACE_SEED=N` replays one seed.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, type CliResult } from '../helpers/cli.js';
import {
  checkI1,
  cli,
  editConfig,
  getHistory,
  listRuns,
  parseJson,
  prng,
  sandboxTarget,
  startE2eSandbox,
  targetState,
  type HistoryEvent,
  type Sandbox,
} from '../helpers/sandbox.js';

/** Each seed races on its own pair of targets, so the seeds run side by side and stay independent. */
const TARGET_PAIRS = [
  ['contoso-api', 'bench-0001'],
  ['bench-0002', 'bench-0003'],
];
const SEEDS = process.env.CERTROTATE_RACE_SEED ? [Number(process.env.CERTROTATE_RACE_SEED)] : [0x5eed1, 0x5eed2];
const ROUNDS = 2;
/** The mutating steps a kill is aimed at (it lands a random moment after the step's progress line). */
const STEPS = ['generateCertificate', 'attachKeyCredential', 'installServerKey', 'verifyNewKey', 'retireOldKey'];
/** Outcomes of a run that still holds its target (DESIGN §5): the operator must resume or close it. */
const OPEN = new Set(['awaitingOperator', 'awaitingRetirement', 'corrupt']);
const isOpen = (outcome: string | null | undefined) => outcome == null || OPEN.has(outcome);

interface ScanDoc {
  targets: {
    name: string;
    status: string;
    credentials?: { thumbprint: string; role: string; runId: string | null }[];
  }[];
}

/**
 * Runs the CLI in its own process group and, when `kill` is given, SIGKILLs the whole group (the CLI and any program
 * it started, as a cancelled pipeline job is killed) `kill.afterMs` after its progress first names `kill.step` as
 * started (or after a minute, when it never does).
 */
function runAgent(
  config: string,
  args: string[],
  kill?: { step: string; afterMs: number },
): Promise<CliResult & { killed: boolean }> {
  const child = spawn(process.execPath, [cliPath, '--config', config, ...args], {
    env: { ...process.env, CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  let killed = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  let armed = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!kill || armed || !new RegExp(`${kill.step}\\b.*started`).test(stderr)) return;
    armed = true;
    setTimeout(killGroup, kill.afterMs);
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
      killed = true;
    } catch {
      // The group already exited.
    }
  };
  const timer = setTimeout(killGroup, 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed: killed && kill !== undefined });
    });
  });
}

/**
 * The server's key sequence never goes to a key older (by the credential's start, its notBefore) than the one it
 * held, except straight back to the key it held just before (a rollback undoing the last move).
 */
function backwardMoves(history: HistoryEvent[], server: string): string[] {
  const start = new Map<string, number>();
  for (const e of history) {
    if (e.kind === 'appKeys') for (const k of e.keys) start.set(k.thumbprint, Date.parse(k.start));
  }
  const seq = history.flatMap((e) => (e.kind === 'serverKey' && e.server === server ? [e.thumbprint] : []));
  const problems: string[] = [];
  const held: string[] = [];
  for (const key of seq) {
    const current = held.at(-1);
    if (current !== undefined && key !== current) {
      const older = (start.get(key) ?? 0) < (start.get(current) ?? 0);
      const undo = held.at(-2) === key;
      if (older && !undo) problems.push(`${server} moved from ${current} to the older key ${key}`);
    }
    if (held.at(-2) === key) held.pop();
    else if (key !== current) held.push(key);
  }
  return problems;
}

/** I3 across agents: no key is attached to the app under two keyIds (two runs taking one version as theirs). */
function attachedTwice(history: HistoryEvent[], appId: string): string[] {
  const ids = new Map<string, Set<string>>();
  for (const e of history) {
    if (e.kind !== 'appKeys' || e.appId !== appId) continue;
    for (const k of e.keys) ids.set(k.thumbprint, (ids.get(k.thumbprint) ?? new Set()).add(k.keyId));
  }
  return [...ids].filter(([, s]) => s.size > 1).map(([t, s]) => `key ${t} attached ${s.size} times`);
}

describe('two agents with different state directories racing on the same targets', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startE2eSandbox({ targets: 3 });
  });
  afterAll(() => sb?.stop());

  it.concurrent.each(SEEDS.map((seed, i) => [seed, TARGET_PAIRS[i % TARGET_PAIRS.length]!] as const))(
    'seed %i on %j: every target settles on one key, no server moves backwards, no orphan',
    async (seed, TARGETS) => {
      const random = prng(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
      const log: string[] = [];
      const note = (line: string) => {
        log.push(line);
        if (process.env.RACE_TRACE) console.error(line);
      };
      note(`seed ${seed} (replay: CERTROTATE_RACE_SEED=${seed})`);
      // Agent A judges other agents' runs by the default staleness bound; agent B judges them lost at once, so it
      // rotates beside A's unfinished runs and A's late resumes meet a world that moved on.
      const agents = await Promise.all(
        ['a', 'b'].map(async (name) => ({
          name,
          config: await editConfig(sb, `race-${seed}-${name}.yaml`, (d) => {
            d.setIn(['state', 'dir'], join(sb.dir, `state-${seed}-${name}`));
            d.setIn(['defaults', 'readSettle'], '2s');
            if (name === 'b') d.setIn(['defaults', 'staleRunAfter'], '0s');
          }),
        })),
      );
      const openRuns = async (config: string) =>
        (await listRuns(config)).filter((r) => isOpen(r.outcome) && TARGETS.includes(r.target));

      // The race: in each round both agents act at once; each rotates a random target or resumes one of its own
      // open runs, and is killed at a random moment about half of the time.
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all(
          agents.map(async (agent) => {
            const open = await openRuns(agent.config);
            const args =
              open.length > 0 && random() < 0.5
                ? ['resume', pick(open).runId, '--yes']
                : ['rotate', pick(TARGETS), '--force', '--yes'];
            const kill = random() < 0.6 ? { step: pick(STEPS), afterMs: Math.floor(random() * 1500) } : undefined;
            const r = await runAgent(agent.config, args, kill);
            const how = r.killed ? `killed in ${kill!.step}` : String(r.code);
            note(`round ${round} ${agent.name}: ${args.slice(0, 3).join(' ')} → ${how}`);
          }),
        );
      }

      // Settling, as an operator would: resume every open run; close one that resume cannot move.
      for (let pass = 0; pass < 4; pass++) {
        let left = 0;
        for (const agent of agents) {
          for (const run of await openRuns(agent.config)) {
            left++;
            const r = await runAgent(agent.config, ['resume', run.runId, '--yes', '--json']);
            note(`settle ${pass} ${agent.name}: resume ${run.runId} → ${r.code}`);
            if (r.code !== 0 && r.code !== 1 && pass >= 2) {
              const a = await runAgent(agent.config, ['abandon', run.runId, '--yes']);
              note(`settle ${pass} ${agent.name}: abandon ${run.runId} → ${a.code} ${a.stderr.trim()}`);
            }
          }
        }
        if (left === 0) break;
      }
      for (const agent of agents) expect(await openRuns(agent.config), log.join('\n')).toEqual([]);

      // Orphans (keys of runs killed or stopped without withdrawing them) are pruned. A run that ended `succeeded`
      // claims its key is in service and its old key retired: an orphan of its is a broken promise, not cleanup.
      const outcomes = new Map<string, string | null>();
      for (const agent of agents) for (const r of await listRuns(agent.config)) outcomes.set(r.runId, r.outcome);
      const judge = agents[1]!.config;
      const first = parseJson<ScanDoc>(await cli(judge, ['--json', 'scan']));
      for (const row of first.targets.filter((x) => TARGETS.includes(x.name) && x.status === 'orphaned')) {
        const ofSucceeded = (row.credentials ?? []).filter(
          (c) => c.role === 'orphaned' && c.runId !== null && outcomes.get(c.runId) === 'succeeded',
        );
        expect(ofSucceeded, `${row.name}: orphans of succeeded runs\n${log.join('\n')}`).toEqual([]);
        const p = await cli(judge, ['--json', 'prune', row.name, '--yes']);
        note(`prune ${row.name} → ${p.code}: ${JSON.stringify(row.credentials)}`);
      }
      for (const agent of agents) {
        const runs = (await listRuns(agent.config)).filter((r) => TARGETS.includes(r.target));
        note(`${agent.name} runs: ${runs.map((r) => `${r.runId} ${r.outcome ?? r.state}`).join(', ')}`);
      }
      console.log(log.join('\n'));

      const history = await getHistory(sb);
      for (const target of TARGETS) {
        const { app, server } = await targetState(sb, target);
        const others = app.keyCredentials.filter((k) => k.thumbprint !== server!.thumbprint);
        expect(
          app.keyCredentials.map((k) => k.thumbprint),
          `${target}: the app holds the server's key\n${log.join('\n')}`,
        ).toContain(server!.thumbprint);
        expect(others.length, `${target}: at most one key besides the server's\n${log.join('\n')}`).toBeLessThanOrEqual(
          1,
        );
        expect(backwardMoves(history, target), log.join('\n')).toEqual([]);
        expect(attachedTwice(history, sandboxTarget(sb, target).appId), log.join('\n')).toEqual([]);
        expect(checkI1(history, { appId: sandboxTarget(sb, target).appId, server: target }), log.join('\n')).toEqual(
          [],
        );
      }
      for (const agent of agents) {
        const scan = await cli(agent.config, ['--json', 'scan', '--detailed-exitcode']);
        const rows = parseJson<ScanDoc>(scan).targets.filter((x) => TARGETS.includes(x.name));
        expect(
          rows.filter((x) => x.status === 'orphaned').map((x) => [x.name, x.credentials]),
          `${agent.name}: scan\n${log.join('\n')}`,
        ).toEqual([]);
      }
    },
    150_000,
  );
});

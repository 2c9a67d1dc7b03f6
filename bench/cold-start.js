// Cold start: `certrotate --help` against `node -e 0`, both as fresh processes of the same Node, alternated so that
// machine noise hits both alike. Goal: at most 3x (commands, SDKs and the sandbox load lazily).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, ms, report } from './lib.js';

const cli = fileURLToPath(new URL('../bin/certrotate.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

function time(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function run() {
  time(['-e', '0']);
  time([cli, '--help']); // warm the file system cache; the first run of each is not counted
  const base = [];
  const help = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(time(['-e', '0']));
    help.push(time([cli, '--help']));
  }
  const b = median(base);
  const h = median(help);
  const ratio = h / b;
  report({
    name: `cold start: certrotate --help vs node -e 0 (median of ${RUNS}, Node ${process.version})`,
    figure: `certrotate --help ${ms(h)}, node -e 0 ${ms(b)}`,
    ratio: `${ratio.toFixed(2)}x`,
    goal: '<= 3x',
    pass: ratio <= 3,
  });
  return { name: 'coldStart', helpMs: h, nodeMs: b, ratio, pass: ratio <= 3 };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

// `npm run bench [-- NAME…]`: runs each benchmark in a fresh process (so one's warm caches never help another) and
// prints what each measured as ratios against a baseline measured in the same run. Names: cold-start, rotation, fleet,
// sandbox. Figures are recorded in bench/README.md.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ALL = ['cold-start', 'rotation', 'sandbox', 'state-backend', 'fleet'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !ALL.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; expected one of ${ALL.join(', ')}`);
  process.exit(1);
}
let failed = 0;
console.log(`certrotate benchmarks — Node ${process.version}, ${new Date().toISOString()}\n`);
for (const name of wanted.length ? wanted : ALL) {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`benchmark ${name} exited ${r.status}\n`);
  }
}
process.exit(failed ? 1 : 0);

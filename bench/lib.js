// Small helpers shared by the benchmarks: medians, formatting, and the Node check.
import tls from 'node:tls';

/** The median of a list of numbers. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Milliseconds with one decimal. */
export const ms = (v) => `${v.toFixed(1)} ms`;

/** Benchmarks that talk to the sandbox must trust its CA at run time (Node >= 22.19 or 24.5). */
export function requireRuntimeCaTrust(name) {
  if (typeof tls.setDefaultCACertificates !== 'function') {
    console.error(`${name} needs Node >= 22.19 or 24.5 (run it through npm run bench); this is ${process.version}`);
    process.exit(1);
  }
}

/** Prints a result line: name, measured figure, ratio against its baseline, goal, verdict. */
export function report({ name, figure, ratio, goal, pass, notes = [] }) {
  console.log(`${name}`);
  console.log(`  ${figure}`);
  if (ratio !== undefined) console.log(`  ratio: ${ratio}`);
  if (goal) console.log(`  goal: ${goal} — ${pass ? 'met' : 'NOT met'}`);
  for (const n of notes) console.log(`  ${n}`);
  console.log('');
}

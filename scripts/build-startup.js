// `npm run build` step after tsc: saves the text commander prints for `certrotate --help` to dist/startup.json, so
// bin/certrotate.js can answer `--help` without loading commander and the program (a fast start, issue 10). The
// text is produced by commander itself through the same output path `--help` takes; test/e2e/cli-basics.test.ts
// compares the launcher's answer with commander's byte for byte.
import { writeFileSync } from 'node:fs';
import { buildProgram } from '../dist/cli.js';

/** What commander writes to stdout for `--help` when its help width is `width`. */
export function commanderHelp(width) {
  let out = '';
  buildProgram()
    .configureOutput({ writeOut: (s) => (out += s), getOutHelpWidth: () => width, getOutHasColors: () => false })
    .outputHelp();
  return out;
}

/** commander's width when stdout is not a terminal (and when a terminal does not say). */
const HELP_WIDTH = 80;
const help = commanderHelp(HELP_WIDTH);
// When nothing wraps at 80 columns, a wider terminal gets the same text: the launcher may use it there too.
const widthIndependent = help === commanderHelp(10_000);
writeFileSync(
  new URL('../dist/startup.json', import.meta.url),
  `${JSON.stringify({ helpWidth: HELP_WIDTH, widthIndependent, help }, null, 2)}\n`,
);

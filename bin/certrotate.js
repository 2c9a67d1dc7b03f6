#!/usr/bin/env node
// Launcher: the compiled CLI lives in dist/ and, bundled, in dist/bundle/ (both built by `npm run build`, which
// `prepare` runs on `npm ci`). Plain JavaScript on purpose: npm links it as the `certrotate` command on every OS.
//
// `--help` and `--version` are answered without loading commander and the program: `npm run build` writes
// dist/startup.json from the built program (commander's own help text), and test/e2e/cli-basics.test.ts checks it
// byte for byte against what commander prints. The saved text is used only where commander would print exactly it:
// a pipe or file (commander wraps at 80 columns there) or a terminal at least as wide as the text was made for.
// Anything else, a missing or unreadable startup.json included, goes through commander as before.
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';

/** The text commander would print for `certrotate <arg>`, when the build saved it; otherwise undefined. */
function savedAnswer(arg) {
  if (arg === '--version' || arg === '-V') {
    // The same source commander's `.version()` reads, so both paths agree when package.json changes.
    return `${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`;
  }
  if (arg !== '--help' && arg !== '-h') return undefined;
  let saved;
  try {
    saved = JSON.parse(readFileSync(new URL('../dist/startup.json', import.meta.url), 'utf8'));
  } catch {
    return undefined;
  }
  // commander's own rule: the terminal's columns, else 80.
  const width = (process.stdout.isTTY ? process.stdout.columns : undefined) ?? 80;
  const same = width === saved.helpWidth || (saved.widthIndependent && width > saved.helpWidth);
  return same && typeof saved.help === 'string' ? saved.help : undefined;
}

/**
 * The program to load: the build's bundle (dist/bundle/, scripts/build-bundle.js: a few files instead of the ~900
 * modules dist/cli.js imports), or dist/cli.js when there is none. With `--log-level debug|trace` (whose errors print
 * their stack) source maps are turned on first, so stacks name src/*.ts positions rather than the bundle's.
 */
function programUrl(args) {
  const bundle = new URL('../dist/bundle/cli.js', import.meta.url);
  if (!existsSync(bundle)) return new URL('../dist/cli.js', import.meta.url).href;
  const level = args.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  const value = level < 0 ? undefined : args[level].includes('=') ? args[level].split('=')[1] : args[level + 1];
  if (value === 'debug' || value === 'trace') process.setSourceMapsEnabled(true);
  return bundle.href;
}

const args = process.argv.slice(2);
const answer = args.length === 1 ? savedAnswer(args[0]) : undefined;
if (answer !== undefined) {
  process.stdout.write(answer);
} else {
  // Every other command loads the program and its modules: Node's compile cache (Node >= 22.1; a directory under
  // the OS temp dir, or NODE_COMPILE_CACHE) spares recompiling them on each start. It only caches V8 code for files
  // whose contents it checks, so a rebuilt dist/ is recompiled, never run stale.
  module.enableCompileCache?.();
  import(programUrl(args))
    .then((m) => m.main(process.argv))
    .catch((err) => {
      process.stderr.write(`certrotate: ${err && err.message ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}

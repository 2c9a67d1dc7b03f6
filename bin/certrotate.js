#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, which `prepare` runs on `npm ci`).
import('../dist/cli.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    process.stderr.write(`certrotate: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });

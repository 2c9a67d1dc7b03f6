// Preloaded with `node --import` by bench/cold-start.js's CPU figure: writes this process's CPU milliseconds (user +
// system, from getrusage: Node's own start included) and its wall milliseconds since start at the moment it opens
// its first client socket, then ends the process; a process that opens none (`node -e 0`) writes them at exit.
import diagnostics from 'node:diagnostics_channel';
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

let written = false;
function write() {
  if (written) return;
  written = true;
  const { user, system } = process.cpuUsage();
  writeSync(
    Number(process.env.BENCH_PROBE_FD ?? 3),
    `${JSON.stringify({ cpuMs: (user + system) / 1000, wallMs: performance.now() })}\n`,
  );
}
diagnostics.subscribe('net.client.socket', () => {
  write();
  process.exit(0);
});
process.on('exit', write);

// Preload (`node --import`) for a certrotate child process: counts its TLS connections (each one a handshake: what
// connection reuse saves) and adds up the deliberate waits the CLI sleeps on its
// clock (create polls, consistency reads, webhook polls, propagation), so a benchmark can tell them from the time
// spent on requests and CPU — the child-process counterpart of rotation.js's counting clock. Budget waits (the
// limiter's own clock) are not counted: they are what the budget bound is about. Writes {sleptMs, sleeps, cpuMs} (cpuMs:
// the process's own user + system CPU time) and tlsConnections as JSON to BENCH_SLEEPS_FILE when the process exits.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { systemClock } from '../dist/runs/system-clock.js';

const file = process.env.BENCH_SLEEPS_FILE;
const sleep = systemClock.sleep;
let sleptMs = 0;
let tlsConnections = 0;
// node:https agents and undici both open their sockets through this module's connect.
const connect = tls.connect;
tls.connect = (...args) => {
  tlsConnections++;
  return connect.apply(tls, args);
};
let sleeps = 0;
systemClock.sleep = async (ms, signal) => {
  const t0 = performance.now();
  try {
    await sleep(ms, signal);
  } finally {
    sleptMs += performance.now() - t0;
    sleeps++;
  }
};
if (file) {
  process.on('exit', () => {
    const cpu = process.cpuUsage();
    writeFileSync(file, JSON.stringify({ sleptMs, sleeps, cpuMs: (cpu.user + cpu.system) / 1000, tlsConnections }));
  });
}

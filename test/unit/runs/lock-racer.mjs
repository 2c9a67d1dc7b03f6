// Child process for the lock race test: tries to take the lock once, prints the outcome, and stays alive briefly
// so that its pid is still running while the others judge whether the lock is stale.
import { setTimeout } from 'node:timers/promises';
const [modulePath, dir, runId] = process.argv.slice(2);
const { FileTargetLock } = await import(modulePath);
const lock = new FileTargetLock(dir);
const r = await lock.acquire('t', runId);
process.stdout.write(r.acquired ? 'acquired\n' : `held by ${r.holder.runId}\n`);
await setTimeout(1500);

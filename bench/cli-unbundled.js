// The CLI from tsc's dist/ modules instead of the launcher's bundle (dist/bundle/), for benchmark children that
// bench/count-sleeps.js instruments: the preload wraps `systemClock` of dist/runs/system-clock.js, and the bundle
// carries its own copy of that module, whose sleeps the preload would never see. Same program, same main(), as
// bin/certrotate.js runs it (compile cache on); only how its modules load differs, which a fleet of minutes does not
// notice.
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('../dist/cli.js');
await main(process.argv).catch((err) => {
  process.stderr.write(`certrotate: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = 1;
});

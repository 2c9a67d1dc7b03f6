/**
 * `certrotate sandbox start`: starts the sandbox, prints one JSON ready line on stdout, and runs until SIGINT or
 * SIGTERM, then stops every listener so the process exits on its own.
 */
import { startSandbox, type SandboxOptions } from './index.js';

/** Starts the sandbox and resolves when a stop signal has closed it. */
export async function runSandboxStart(
  options: SandboxOptions,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
): Promise<void> {
  const sandbox = await startSandbox(options);
  const ready = {
    ready: true,
    admin: sandbox.adminUrl,
    config: sandbox.configPath,
    ...(sandbox.storage ? { storage: `${sandbox.storage.accountUrl}/${sandbox.storage.container}` } : {}),
  };
  io.stdout.write(`${JSON.stringify(ready)}\n`);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.stderr.write(`certrotate sandbox: ${signal}, stopping\n`);
      sandbox.stop().then(resolve, resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

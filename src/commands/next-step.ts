/**
 * The commands certrotate prints for a person to run next (apply a plan, make a new one, …), built in one place so
 * each carries the `--config` this invocation used: a copied hint must act on the same configuration.
 */
import { resolve } from 'node:path';

/** Quotes an argument for a POSIX shell when it needs it. */
function shellArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * `certrotate ARGS…`, plus `--config PATH` when `configOption` (the global `--config`) names a file other than the
 * default `certrotate.yaml` of the working directory.
 */
export function nextCommand(args: readonly string[], configOption: string | undefined): string {
  const config =
    configOption !== undefined && resolve(configOption) !== resolve('certrotate.yaml')
      ? ['--config', configOption]
      : [];
  return ['certrotate', ...args, ...config].map(shellArg).join(' ');
}

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

/** ` --config PATH` when {@link nextCommand} would add it, else ''. */
function configSuffix(configOption: string | undefined): string {
  return nextCommand([], configOption).slice('certrotate'.length);
}

/**
 * `text` with `--config PATH` added to every command in backticks (`` `certrotate resume R` ``), the way every
 * message writes a command for a person to run — the one place printed messages (stdout, errors) get the config this
 * invocation used. Commands that already name a config are left alone.
 */
export function withConfigOption(text: string, configOption: string | undefined): string {
  const suffix = configSuffix(configOption);
  if (!suffix) return text;
  return text.replace(/`(certrotate [^`\n]+)`/g, (whole, command: string) =>
    /(^|\s)--config(\s|=)/.test(command) ? whole : `\`${command}${suffix}\``,
  );
}

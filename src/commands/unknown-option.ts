import type { Command } from 'commander';

/** The long flags a command accepts, its help option included. */
function longFlags(cmd: Command): string[] {
  return cmd
    .createHelp()
    .visibleOptions(cmd)
    .map((o) => o.long)
    .filter((f): f is string => Boolean(f));
}

/**
 * commander names an unknown option but not the ones that exist. DESIGN §5 wants every usage error to say what was
 * expected, so on this command and every subcommand the message is completed with the options the command takes
 * and the global ones (which commander accepts after the command name too).
 */
export function explainUnknownOptions(cmd: Command): void {
  cmd.configureOutput({
    outputError: (str, write) => {
      const unknown = /^error: unknown option '([^']+)'/.exec(str);
      if (!unknown) return write(str);
      const own = longFlags(cmd);
      const global: string[] = [];
      for (let p = cmd.parent; p; p = p.parent) global.push(...longFlags(p).filter((f) => !own.includes(f)));
      const expected = `expected one of ${own.join(', ')}${global.length ? `, or a global option: ${global.join(', ')}` : ''}`;
      write(str.replace(unknown[0], `${unknown[0]}; ${expected}`));
    },
  });
  for (const sub of cmd.commands) explainUnknownOptions(sub);
}

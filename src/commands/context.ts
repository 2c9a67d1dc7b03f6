/**
 * What every command shares: the global options, the config loader, output on stdout (one JSON document with
 * `--json`, human text otherwise) and the logger on stderr.
 */
import type { Logger } from 'pino';
import { loadConfig, resolveConfigPath, type LoadedConfig } from '../config/load.js';
import { logHttpCalls } from '../logging/http-log.js';
import { createLogger, LOG_LEVELS } from '../logging/logger.js';
import { scrubValue } from '../logging/scrub.js';
import { UsageError } from '../errors.js';
import { withConfigOption } from '../next-step.js';

/** The global options of DESIGN §5. */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
  logLevel: string;
  logFile?: string;
  yes?: boolean;
  color: boolean;
}

export { UsageError } from '../errors.js';

/** Everything a command needs from the CLI layer. */
export class CommandContext {
  private loaded?: Promise<LoadedConfig>;
  private log?: Logger;
  private besideProgress = false;

  constructor(
    readonly options: GlobalOptions,
    readonly env: NodeJS.ProcessEnv = process.env,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
  ) {
    if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel)) {
      throw new UsageError(`option --log-level: got "${options.logLevel}"; expected one of ${LOG_LEVELS.join(', ')}`);
    }
  }

  /** Whether the run may prompt: stdin is a TTY and CI is not set (DESIGN §5). */
  get interactive(): boolean {
    return Boolean(process.stdin.isTTY) && this.env.CI !== 'true';
  }

  /** The configuration, loaded once. */
  config(): Promise<LoadedConfig> {
    // Warnings are said once per invocation, on stderr, so they never enter a --json document on stdout.
    this.loaded ??= loadConfig(resolveConfigPath(this.options.config, this.env)).then((loaded) => {
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      return loaded;
    });
    return this.loaded;
  }

  /**
   * Called by the commands that show progress lines (rotate, resume, rollback, prune) before anything logs: info logs
   * then go to `--log-file` only, and warnings reach stderr as plain `warning:` lines (see {@link createLogger}).
   */
  logsBesideProgress(): void {
    if (this.log) this.log.flush();
    this.besideProgress = true;
    this.log = undefined;
  }

  /** The logger on stderr (and `--log-file`), redaction on. */
  get logger(): Logger {
    this.log ??= createLogger({
      level: this.options.logLevel as (typeof LOG_LEVELS)[number],
      file: this.options.logFile,
      besideProgress: this.besideProgress,
      color: this.options.color && !this.env.NO_COLOR,
    });
    // `--log-level debug`: every HTTP call, with its request ids, for Microsoft support (src/logging/http-log.ts).
    logHttpCalls(this.log);
    return this.log;
  }

  /** Prints the command's result: the JSON document with `--json`, else the human text. Scrubbed either way. */
  print(document: unknown, human: () => string): void {
    if (this.options.json) {
      this.stdout.write(`${JSON.stringify(scrubValue(document), null, 2)}\n`);
    } else {
      // Every command a message offers to run next carries the --config this invocation used.
      const text = withConfigOption(human(), this.options.config);
      if (text) this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }
}

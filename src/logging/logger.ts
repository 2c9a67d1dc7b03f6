import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent, type StreamEntry } from 'pino';
import type PinoPretty from 'pino-pretty';
import { scrubString, scrubValue } from './scrub.js';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** trace | debug | info | warn | error | silent (default info). */
  level?: LevelWithSilent;
  /** Also append JSON lines to this file (mode 0600). */
  file?: string;
  /** Human-readable output on stderr; default: when stderr is a TTY. */
  pretty?: boolean;
  /** Colours in pretty output (`--no-color` turns them off). */
  color?: boolean;
  /**
   * Progress lines own stderr (rotate, resume, rollback, prune): stderr then gets only warnings and errors, each as
   * one plain `warning: …` line, unless `level` asks for debug or trace; the file still gets every line at `level`.
   */
  besideProgress?: boolean;
  /** Where the plain lines of `besideProgress` go (default stderr). */
  stderr?: NodeJS.WritableStream;
}

const LEVEL_VALUES: Record<LevelWithSilent, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

/**
 * A pino destination that writes each record as one short sentence (`warning: msg`), so a warning said beside the
 * progress lines reads as one of them instead of a JSON object or a pretty-printed block.
 */
function plainLines(out: NodeJS.WritableStream): { write(line: string): void } {
  return {
    write(line: string) {
      let rec: { level?: number; msg?: string };
      try {
        rec = JSON.parse(line) as { level?: number; msg?: string };
      } catch {
        return;
      }
      const label = (rec.level ?? 0) >= 50 ? 'error' : (rec.level ?? 0) >= 40 ? 'warning' : 'log';
      out.write(`${label}: ${rec.msg ?? ''}\n`);
    },
  };
}

/** The log levels accepted by `--log-level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

const require = createRequire(import.meta.url);

/**
 * certrotate's logger: pino on stderr (stdout is reserved for `--json` documents), pretty on a TTY, JSON otherwise,
 * optionally also to a file. Streams are synchronous so nothing is lost when a short CLI run exits. Redaction is
 * always on: secret-named fields are replaced and every string is scrubbed of private keys, tokens and long base64
 * blobs before it is serialised.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  // A silent logger still needs a stream level; nothing reaches it because pino itself filters first.
  const streamLevel = level === 'silent' ? 'fatal' : level;
  const streams: StreamEntry[] = [];
  // Beside progress, info lines would land between the step lines: they go to the file only (or nowhere).
  const quiet = opts.besideProgress === true && LEVEL_VALUES[streamLevel] >= LEVEL_VALUES.info;
  if (quiet) {
    const consoleLevel = LEVEL_VALUES[streamLevel] > LEVEL_VALUES.warn ? streamLevel : 'warn';
    streams.push({ level: consoleLevel, stream: plainLines(opts.stderr ?? process.stderr) });
  } else if (pretty) {
    // Loaded only when needed: pino-pretty is not small and pipelines never use it.
    const prettyFactory = require('pino-pretty') as typeof PinoPretty;
    streams.push({
      level: streamLevel,
      stream: prettyFactory({
        destination: 2,
        sync: true,
        colorize: opts.color ?? true,
        translateTime: 'HH:MM:ss',
        ignore: 'pid,hostname',
      }),
    });
  } else {
    streams.push({ level: streamLevel, stream: pino.destination({ dest: 2, sync: true }) });
  }
  if (opts.file) {
    streams.push({
      level: streamLevel,
      stream: pino.destination({ dest: opts.file, sync: true, mkdir: true, mode: 0o600 }),
    });
  }
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        // Runs on every log object before serialisation, whatever the caller passed.
        log: (obj) => scrubValue(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubString(a) : a)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
    },
    pino.multistream(streams),
  );
}

/** A logger that writes nothing, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

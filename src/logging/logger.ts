import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Logger, LevelWithSilent, StreamEntry } from 'pino';
import type PinoModule from 'pino';
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

/** pino, loaded synchronously the first time a logger needs it (a CLI run that logs nothing never loads it). */
function loadPino(): typeof PinoModule.pino {
  return (require('pino') as typeof PinoModule).pino;
}

/** The method names of pino's levels: a call at a disabled level is a no-op in pino too. */
const LOG_METHODS = new Set<PropertyKey>(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => {};

/**
 * A logger that is pino as soon as anything needs pino, and a few cheap answers until then: `level` (read and set),
 * `isLevelEnabled`, `flush` (nothing written yet) and the methods of disabled levels (no-ops, as in pino). The first
 * log line at an enabled level, or any other property (`child`, `bindings`, …), builds the pino logger with `build`
 * and forwards to it from then on, so every line it writes is the one pino would have written (a start-up that logs
 * nothing before its first request then never loads pino: issue 10, fast start).
 */
function lazyLogger(initialLevel: LevelWithSilent, build: () => Logger): Logger {
  let real: Logger | undefined;
  let level: string = initialLevel;
  const materialize = (): Logger => {
    if (!real) {
      real = build();
      if (real.level !== level) real.level = level;
    }
    return real;
  };
  const enabled = (name: string): boolean =>
    name in LEVEL_VALUES &&
    name !== 'silent' &&
    LEVEL_VALUES[name as LevelWithSilent] >= LEVEL_VALUES[level as LevelWithSilent];
  const early: Record<PropertyKey, unknown> = {
    isLevelEnabled: (name: string) => enabled(name),
    flush: noop,
  };
  return new Proxy({} as Logger, {
    get(_target, prop) {
      if (!real) {
        if (prop === 'level') return level;
        if (prop in early) return early[prop];
        if (LOG_METHODS.has(prop) && !enabled(prop as string)) return noop;
      }
      const logger = materialize();
      const value: unknown = Reflect.get(logger, prop, logger);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(logger) : value;
    },
    set(_target, prop, value: unknown) {
      // An unknown level is pino's to refuse, with pino's error.
      if (!real && prop === 'level' && typeof value === 'string' && value in LEVEL_VALUES) {
        level = value;
        return true;
      }
      return Reflect.set(materialize(), prop, value);
    },
  });
}

/**
 * certrotate's logger: pino on stderr (stdout is reserved for `--json` documents), pretty on a TTY, JSON otherwise,
 * optionally also to a file. Streams are synchronous so nothing is lost when a short CLI run exits. Redaction is
 * always on: secret-named fields are replaced and every string is scrubbed of private keys, tokens and long base64
 * blobs before it is serialised.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  // The log file exists from the start, as pino's destination would create it, even before the first line.
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    closeSync(openSync(opts.file, 'a', 0o600));
  }
  return lazyLogger(level, () => buildPinoLogger(opts, level));
}

/** The pino logger of {@link createLogger}: streams, redaction and formatting. */
function buildPinoLogger(opts: LoggerOptions, level: LevelWithSilent): Logger {
  const pino = loadPino();
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
  return lazyLogger('silent', () => loadPino()({ level: 'silent' }));
}

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
  if (pretty) {
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

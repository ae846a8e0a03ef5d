import { hostname } from 'node:os';
import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger, LoggerOptions as PinoOptions } from 'pino';

/** The logger every coordinator component takes; a pino logger. */
export type Logger = PinoLogger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL or LOG_FORMAT holds a value the logger does not know. */
export class LogConfigError extends Error {
  override readonly name = 'LogConfigError';
  /** Where the bad value came from, e.g. 'env LOG_LEVEL'. */
  readonly source: string;
  readonly value: string;

  constructor(source: string, value: string, expected: string) {
    super(`${source}: expected ${expected}, got ${JSON.stringify(value)}`);
    this.source = source;
    this.value = value;
  }
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Checks a level name; `source` names where it came from for the error. */
export function parseLogLevel(value: string, source: string): LogLevel {
  if (!isLogLevel(value)) throw new LogConfigError(source, value, `one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

/**
 * Fields never written as they are: tokens, session keys and the headers
 * that carry them (pino redaction; docs/security.md). Code does not log
 * them on purpose; this catches a log line that passes one by mistake.
 */
export const redactedPaths = [
  'authorization',
  'token',
  'sessionKey',
  'peerToken',
  '*.authorization',
  '*.token',
  '*.sessionKey',
  '*.peerToken',
  'headers.authorization',
  '*.headers.authorization',
  'metadata.authorization',
  '*.metadata.authorization',
] as const;
export const redactedCensor = '[redacted]';

export interface CreateLoggerOptions {
  /** Raft id of the node; on every line as `nodeId`. */
  readonly nodeId: string;
  /** Added as `component` on every line, e.g. 'raft', 'http', 'scheduler'. */
  readonly component?: string;
  /** Overrides LOG_LEVEL. */
  readonly level?: string;
  /** Where NDJSON goes instead of stdout (tests, files). Never pretty-printed. */
  readonly destination?: DestinationStream;
  /** Environment to read LOG_LEVEL and LOG_FORMAT from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal; default process.stdout.isTTY. */
  readonly isTty?: boolean;
}

/**
 * A pino logger writing NDJSON, one object per line, with `nodeId` (and
 * `component`) on every line.
 *
 * Level: `options.level`, else LOG_LEVEL, else 'info'; an unknown name is a
 * `LogConfigError`, not a silent fallback. Format: pretty (pino-pretty, in a
 * worker thread) only when writing to stdout, stdout is a terminal and
 * LOG_FORMAT is not 'json'. Otherwise stdout is written synchronously, so the
 * lines logged just before a crash are not lost in a buffer.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const env = options.env ?? process.env;
  const level = resolveLevel(options.level, env);
  const format = resolveFormat(env);
  const base: Record<string, unknown> = { pid: process.pid, hostname: hostname(), nodeId: options.nodeId };
  if (options.component !== undefined) base['component'] = options.component;
  const pinoOptions: PinoOptions = { level, base, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: [...redactedPaths], censor: redactedCensor } };

  if (options.destination !== undefined) return pino(pinoOptions, options.destination);
  // Logs go to stderr, like every other note a command writes (docs/cli.md#streams).
  const isTty = options.isTty ?? process.stderr.isTTY === true;
  if (isTty && format === 'auto') {
    return pino({
      ...pinoOptions,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino(pinoOptions, pino.destination({ dest: 2, sync: true }));
}

/** A logger for one component of the node: every line gets `component`. */
export function childLogger(logger: Logger, component: string): Logger {
  return logger.child({ component });
}

function resolveLevel(explicit: string | undefined, env: NodeJS.ProcessEnv): LogLevel {
  if (explicit !== undefined) return parseLogLevel(explicit, 'log level option');
  const fromEnv = env['LOG_LEVEL'];
  if (fromEnv !== undefined && fromEnv !== '') return parseLogLevel(fromEnv, 'env LOG_LEVEL');
  return 'info';
}

function resolveFormat(env: NodeJS.ProcessEnv): 'json' | 'auto' {
  const value = env['LOG_FORMAT'];
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'json') return 'json';
  throw new LogConfigError('env LOG_FORMAT', value, "'json' or 'auto' (pretty on a terminal)");
}

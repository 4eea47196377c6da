/**
 * Logging as a narrow interface so embedders route vnetkit's lines into their own logger. Nothing
 * logs per packet; hot paths count instead.
 * @module
 */

/** Log levels, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Where vnetkit writes its log lines. */
export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** A logger that drops everything (the library default). */
export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/** A logger writing `level: message` lines to a stream (stderr by default) up to `level`. */
export function streamLogger(level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const max = ORDER[level];
  const line = (l: LogLevel) => (msg: string) => {
    if (ORDER[l] <= max) out.write(`${l}: ${msg}\n`);
  };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}

/** Whether `s` names a log level. */
export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

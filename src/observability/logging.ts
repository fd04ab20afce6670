import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config';

export type { Logger } from 'pino';

/**
 * Structured JSON logs on stdout. `destination` exists for tests that capture lines.
 *
 * Writes are synchronous: the service logs a handful of lines, never per call, and an
 * asynchronous stdout can reorder or lose the last lines when the process exits right after
 * "stopped".
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'routeguide' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

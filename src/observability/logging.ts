import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config';

export type { Logger } from 'pino';

/**
 * Structured JSON logs on stdout. `destination` exists for tests that capture lines.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'routeguide' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

import pino, { type Logger } from 'pino';
export type { Logger } from 'pino';

/** The levels `LOG_LEVEL` accepts: pino's, and `silent`. */
export type LogLevel = pino.LevelWithSilent;

/**
 * Structured JSON logs on stdout. `destination` exists for tests that capture lines.
 *
 * Writes are synchronous: the service logs a handful of lines, never per call, and an
 * asynchronous stdout can reorder or lose the last lines when the process exits right after
 * "stopped".
 *
 * `traceFields` (tracing on: `Tracing.logFields`) becomes a pino mixin, so every line written
 * inside a traced call carries its `trace_id` and `span_id`. Without it (tracing off) there is no
 * mixin at all: no per-line cost.
 */
export function createLogger(
  level: LogLevel,
  destination?: pino.DestinationStream,
  traceFields?: () => Record<string, string>,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'routeguide' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(traceFields !== undefined ? { mixin: traceFields } : {}),
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

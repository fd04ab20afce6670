#!/usr/bin/env node
/**
 * Entry point of the `routeguide` command. Tracing starts first (only when the OTEL_* variables
 * configure an exporter; otherwise nothing is loaded), because OpenTelemetry's gRPC
 * instrumentation patches @grpc/grpc-js when it is first required; the program, which loads
 * grpc-js, comes after. Its calls then carry a W3C `traceparent`, and their client spans are
 * exported before the process exits.
 */
import { startTracing, TracingConfigError, type Tracing } from '../observability/tracing';

const EXIT_USAGE = 2;

async function main(): Promise<number> {
  let tracing: Tracing;
  try {
    tracing = await startTracing({ serviceName: 'routeguide-cli' });
  } catch (error) {
    if (!(error instanceof TracingConfigError)) throw error;
    process.stderr.write(`routeguide: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const { run } = await import('./cli-program');
  const code = await run(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    stderrIsTty: process.stderr.isTTY === true,
  });
  if (tracing.enabled) {
    await tracing.shutdown();
    // An exporter still retrying an unreachable collector must not hold the exit up any longer
    // than shutdown() waited (stdout and stderr are synchronous for files and pipes on Linux).
    process.exit(code);
  }
  return code;
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}

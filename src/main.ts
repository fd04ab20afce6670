#!/usr/bin/env node
import { performance } from 'node:perf_hooks';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './observability/logging';
import { startTracing, TracingConfigError, type Tracing } from './observability/tracing';
import { FeatureDatabaseError, loadFeatureDatabase } from './routeguide/features';
// Nothing above may load @grpc/grpc-js: ./server (which does) is imported in main(), once
// tracing has started, because OpenTelemetry's gRPC instrumentation patches it on first require.

/** Exit codes: 0 clean shutdown, 1 start-up failure or forced exit, 2 bad configuration. */
const EXIT_OK = 0;
const EXIT_STARTUP_FAILED = 1;
const EXIT_FORCED = 1;
const EXIT_BAD_CONFIG = 2;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`routeguide: ${error.message}\n`);
      process.exit(EXIT_BAD_CONFIG);
    }
    throw error;
  }
}

/** Tracing when OTEL_* configures an exporter (else a no-op that loaded nothing). */
async function startTracingOrExit(config: Config): Promise<Tracing> {
  try {
    return await startTracing({
      serviceName: 'routeguide',
      serviceInstanceId: config.replicaId,
    });
  } catch (error) {
    if (error instanceof TracingConfigError) {
      process.stderr.write(`routeguide: invalid configuration: ${error.message}\n`);
      process.exit(EXIT_BAD_CONFIG);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const tracing = await startTracingOrExit(config);
  const logger = createLogger(config.logLevel, undefined, tracing.logFields);
  tracing.reportProblems((message) => logger.warn({ component: 'opentelemetry' }, message));
  const { RouteGuideApp } = await import('./server');

  const loadStarted = performance.now();
  let features;
  try {
    features = loadFeatureDatabase(config.featuresFile);
  } catch (error) {
    if (error instanceof FeatureDatabaseError) {
      logger.fatal({ file: error.file, entry: error.entryIndex }, error.message);
      process.exitCode = EXIT_STARTUP_FAILED;
      return;
    }
    throw error;
  }
  const loadMs = Math.round(performance.now() - loadStarted);

  const app = new RouteGuideApp({ config, logger, features, tracing });
  const port = await app.listen();

  // Handlers go in before the "serving" line: whoever waits for that line may signal at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FORCED);
    }
    stopping = true;
    const { delayMs, graceMs } = config.shutdown;
    logger.info({ signal, delayMs, graceMs }, 'shutting down');
    void app.shutdown(graceMs).then(
      async () => {
        await tracing.shutdown(); // buffered spans go out first (never rejects; bounded)
        logger.info('stopped');
        // Exit explicitly: a peer's idle connection or timer must not keep the process alive.
        process.exit(EXIT_OK);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(EXIT_FORCED);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  logger.info(
    {
      host: config.host,
      port,
      metricsPort: app.metricsPort,
      tls: config.tls === undefined ? 'off' : config.tls.clientCaFile ? 'mutual' : 'on',
      auth: config.authToken !== undefined,
      reflection: config.reflection,
      notesStore: config.redis === undefined ? 'memory' : 'redis',
      features: features.size,
      loadMs,
      replica: config.replicaId,
      tracing: tracing.enabled,
    },
    'routeguide serving',
  );
}

main().catch((error: unknown) => {
  // Last resort: something failed that has no better handler (e.g. the port is taken).
  process.stderr.write(
    `routeguide: failed to start: ${(error as Error)?.message ?? String(error)}\n`,
  );
  process.exit(EXIT_STARTUP_FAILED);
});

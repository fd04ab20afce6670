#!/usr/bin/env node
import { performance } from 'node:perf_hooks';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, type Logger } from './observability/logging';
import { startTracing, TracingConfigError, type Tracing } from './observability/tracing';
import {
  FeatureDatabaseError,
  loadFeatureDatabase,
  type FeatureDatabase,
} from './routeguide/features';
import type { RouteGuideApp } from './server';
// Nothing above may load @grpc/grpc-js (a type-only import loads nothing): ./server is imported in main(), once
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

/** The app once it serves; until then a signal has nothing to drain. */
interface Started {
  app?: RouteGuideApp;
}

/**
 * Installs the SIGTERM/SIGINT handler and returns a function that removes it. Until the app is
 * serving there is nothing to drain: a signal exits at once. Once it serves, a signal drains it;
 * a second signal exits at once.
 */
function handleSignals(
  config: Config,
  logger: Logger,
  tracing: Tracing,
  started: Started,
): () => void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FORCED);
    }
    stopping = true;
    const app = started.app;
    if (app === undefined) {
      logger.info({ signal }, 'signal during start-up: exiting');
      process.exit(EXIT_OK);
    }
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
  return () => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
}

/** The feature database and its load time; undefined (logged) when the file is invalid. */
function loadFeatures(
  config: Config,
  logger: Logger,
): { features: FeatureDatabase; loadMs: number } | undefined {
  logger.debug({ file: config.featuresFile }, 'loading features');
  const loadStarted = performance.now();
  try {
    const features = loadFeatureDatabase(config.featuresFile);
    return { features, loadMs: Math.round(performance.now() - loadStarted) };
  } catch (error) {
    if (error instanceof FeatureDatabaseError) {
      logger.fatal({ file: error.file, entry: error.entryIndex }, error.message);
      return undefined;
    }
    throw error;
  }
}

function logServing(
  logger: Logger,
  config: Config,
  app: RouteGuideApp,
  port: number,
  loaded: { features: FeatureDatabase; loadMs: number },
  tracing: Tracing,
): void {
  logger.info(
    {
      host: config.host,
      port,
      metricsPort: app.metricsPort,
      healthPort: app.healthPort,
      restPort: app.restPort,
      serving: config.rest === undefined ? ['grpc'] : ['grpc', 'rest'],
      tls: config.tls === undefined ? 'off' : config.tls.clientCaFile ? 'mutual' : 'on',
      auth: config.authToken !== undefined || config.jwt !== undefined,
      jwt: config.jwt === undefined ? 'off' : app.jwksKeys?.usable === false ? 'no keys yet' : 'on',
      reflection: config.reflection,
      notesStore: config.redis === undefined ? 'memory' : 'redis',
      features: loaded.features.size,
      loadMs: loaded.loadMs,
      replica: config.replicaId,
      tracing: tracing.enabled,
      memoryBudgetBytes: app.admission.memory?.limitBytes ?? 'none',
    },
    'routeguide serving',
  );
  if (config.authToken !== undefined && config.tls === undefined) {
    logger.warn('AUTH_TOKEN is set without TLS: bearer tokens cross the network in cleartext');
  }
  if (config.jwt !== undefined && config.tls === undefined) {
    logger.warn('JWT verification is on without TLS: access tokens cross the network in cleartext');
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const tracing = await startTracingOrExit(config);
  const logger = createLogger(config.logLevel, undefined, tracing.logFields);
  tracing.reportProblems((message) => logger.warn({ component: 'opentelemetry' }, message));

  // Signal handlers go in first, before the database loads and the port binds: a SIGTERM
  // during start-up (a rollout, a large database still loading) must end the process cleanly,
  // not kill it mid-way.
  const started: Started = {};
  const removeSignalHandlers = handleSignals(config, logger, tracing, started);

  const { RouteGuideApp } = await import('./server');

  const loaded = loadFeatures(config, logger);
  if (loaded === undefined) {
    process.exitCode = EXIT_STARTUP_FAILED;
    removeSignalHandlers();
    return;
  }

  const app = new RouteGuideApp({ config, logger, features: loaded.features, tracing });
  const port = await app.listen();
  // From here a signal drains the server (the port is bound and reports SERVING).
  started.app = app;
  logServing(logger, config, app, port, loaded, tracing);
}

main().catch((error: unknown) => {
  // Last resort: something failed that has no better handler (e.g. the port is taken).
  process.stderr.write(
    `routeguide: failed to start: ${(error as Error)?.message ?? String(error)}\n`,
  );
  process.exit(EXIT_STARTUP_FAILED);
});

/**
 * The standalone REST gateway process (standalone-gateway.ts): config → tracing → logger →
 * signals → gateway → listen. Exit codes as the server's: 0 clean shutdown, 1 start-up failure
 * or forced exit, 2 bad configuration.
 */
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, type Logger } from './observability/logging';
import { startTracing, TracingConfigError, type Tracing } from './observability/tracing';
import type { StandaloneGateway } from './standalone-gateway';
// Nothing above may load @grpc/grpc-js (a type-only import loads nothing): ./standalone-gateway
// is imported in main(), once tracing has started, because OpenTelemetry's gRPC instrumentation
// patches it on first require (that is how forwarded calls carry the trace to the target).

const EXIT_OK = 0;
const EXIT_STARTUP_FAILED = 1;
const EXIT_FORCED = 1;
const EXIT_BAD_CONFIG = 2;

function badConfig(message: string): never {
  process.stderr.write(`routeguide-gateway: ${message}\n`);
  process.exit(EXIT_BAD_CONFIG);
}

function readConfig(): Config {
  try {
    const config = loadConfig(process.env);
    if (config.gatewayTarget === undefined) throw new ConfigError('GATEWAY_TARGET is required');
    return config;
  } catch (error) {
    if (error instanceof ConfigError) badConfig(error.message);
    throw error;
  }
}

/** Tracing when OTEL_* configures an exporter (else a no-op that loaded nothing). */
async function startTracingOrExit(config: Config): Promise<Tracing> {
  try {
    return await startTracing({
      serviceName: 'routeguide-gateway',
      serviceInstanceId: config.replicaId,
    });
  } catch (error) {
    if (error instanceof TracingConfigError) badConfig(`invalid configuration: ${error.message}`);
    throw error;
  }
}

/**
 * SIGTERM/SIGINT: before the gateway serves, exit at once; then drain it within
 * `SHUTDOWN_GRACE_MS` and flush the buffered spans; a second signal exits at once.
 */
function handleSignals(
  logger: Logger,
  tracing: Tracing,
  started: { gateway?: StandaloneGateway },
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(EXIT_FORCED);
    stopping = true;
    const gateway = started.gateway;
    if (gateway === undefined) process.exit(EXIT_OK);
    logger.info({ signal }, 'shutting down');
    gateway.shutdown().then(
      async () => {
        await tracing.shutdown(); // never rejects; bounded
        process.exit(EXIT_OK);
      },
      () => process.exit(EXIT_FORCED),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function main(): Promise<void> {
  const config = readConfig();
  const tracing = await startTracingOrExit(config);
  const logger = createLogger(config.logLevel, undefined, tracing.logFields);
  tracing.reportProblems((message) => logger.warn({ component: 'opentelemetry' }, message));
  const started: { gateway?: StandaloneGateway } = {};
  handleSignals(logger, tracing, started);

  const { StandaloneGateway } = await import('./standalone-gateway');
  let gateway: StandaloneGateway;
  try {
    gateway = new StandaloneGateway({ config, logger, tracing });
  } catch (error) {
    if (error instanceof ConfigError) badConfig(error.message);
    throw error;
  }
  const port = await gateway.listen();
  started.gateway = gateway;
  const tls = config.gatewayTargetTls;
  logger.info(
    {
      host: config.host,
      restPort: port,
      metricsPort: gateway.metricsPort,
      target: config.gatewayTarget,
      targetTls: tls === undefined ? 'off' : tls.certFile !== undefined ? 'mutual' : 'on',
      tracing: tracing.enabled,
      serving: ['rest'],
    },
    'routeguide gateway serving',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `routeguide-gateway: failed to start: ${(error as Error)?.message ?? String(error)}\n`,
  );
  process.exit(EXIT_STARTUP_FAILED);
});

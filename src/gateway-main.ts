/**
 * The standalone REST gateway: the same gateway as the server's, as its own process in front of
 * a gRPC target (`GATEWAY_TARGET`, e.g. `dns:///routeguide:50051`, balanced round robin by the
 * typed client), for deployments that keep their gRPC port private. Calls are forwarded with
 * their Authorization (the target authenticates), deadline and metadata; the gateway applies its
 * own connection guard, stream admission limits and per-message limits. `/healthz` reports the
 * target's grpc.health.v1 status.
 */
import type * as grpc from '@grpc/grpc-js';
import { createRouteGuideClient, type RouteGuideClient } from './client/client';
import { ConfigError, loadConfig, type Config } from './config';
import { forwardingHandlers } from './gateway/forwarding-handlers';
import { httpBindings } from './gateway/http-rules';
import { RestGateway } from './gateway/rest-gateway';
import { RestServer } from './gateway/rest-server';
import { AdmissionControl } from './grpc/admission';
import { ConnectionGuard } from './net/connection-guard';
import { CallCounters } from './observability/call-counters';
import { createLogger, type Logger } from './observability/logging';
import { loadRouteGuideProto } from './protocol/proto';

/** How often the target's health is checked for `/healthz`. */
const HEALTH_POLL_MS = 2000;

/** Options for {@link StandaloneGateway}. */
export interface StandaloneGatewayOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** The gRPC target; default `config.gatewayTarget`. */
  readonly target?: string;
}

/** The standalone gateway: a REST port whose handlers forward to a gRPC target. */
export class StandaloneGateway {
  readonly client: RouteGuideClient;
  readonly calls = new CallCounters();
  private readonly rest: RestServer;
  private healthStatus = 'NOT_SERVING';
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StandaloneGatewayOptions) {
    const { config, logger } = options;
    const target = options.target ?? config.gatewayTarget;
    if (target === undefined) throw new ConfigError('GATEWAY_TARGET is required');
    const rest = config.rest;
    if (rest === undefined) throw new ConfigError('REST=false: the gateway has nothing to serve');
    // Forwarded calls carry the caller's deadline; none is added for calls without one.
    this.client = createRouteGuideClient({ target, deadlineMs: 2 ** 31 - 1 });
    const { packageDefinition } = loadRouteGuideProto();
    const bindings = httpBindings(packageDefinition);
    const gateway = new RestGateway({
      packageDefinition,
      bindings,
      handler: forwardingHandlers(this.client.stub, packageDefinition, bindings),
      counters: this.calls,
      admission: new AdmissionControl({
        maxCalls: config.admission.maxCalls,
        maxCallsPerConnection: config.admission.maxCallsPerConnection,
        pushbackMs: config.admission.pushbackMs,
      }),
      replicaId: config.replicaId,
      health: () => this.healthStatus,
      maxReceiveMessageBytes: config.connections.maxReceiveMessageBytes,
      maxBodyBytes: rest.maxBodyBytes,
      corsOrigins: rest.corsOrigins,
      retryAfterSeconds: Math.max(1, Math.ceil(config.admission.pushbackMs / 1000)),
      logger,
    });
    const { handshakeTimeoutMs, idleTimeoutMs } = config.connections;
    this.rest = new RestServer({
      gateway,
      logger,
      host: config.host,
      port: rest.port,
      guard: new ConnectionGuard({
        port: 'rest',
        maxConnections: rest.maxConnections,
        handshakeTimeoutMs,
        idleTimeoutMs,
      }),
      ...(config.tls ? { tls: config.tls } : {}),
    });
  }

  get port(): number {
    return this.rest.port;
  }

  async listen(): Promise<number> {
    const port = await this.rest.listen();
    this.pollHealth();
    return port;
  }

  async shutdown(graceMs = this.options.config.shutdown.graceMs): Promise<void> {
    clearTimeout(this.healthTimer);
    await this.rest.close(graceMs);
    this.client.close();
  }

  private pollHealth(): void {
    const check = (): void => {
      this.client.checkHealth('', { deadlineMs: HEALTH_POLL_MS }).then(
        (answer) => (this.healthStatus = answer.value),
        (error: grpc.ServiceError) => {
          this.healthStatus = 'NOT_SERVING';
          this.options.logger.debug({ code: error.code }, 'target health check failed');
        },
      );
      this.healthTimer = setTimeout(check, HEALTH_POLL_MS).unref();
    };
    check();
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    if (config.gatewayTarget === undefined) throw new ConfigError('GATEWAY_TARGET is required');
  } catch (error) {
    process.stderr.write(`routeguide-gateway: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const gateway = new StandaloneGateway({ config, logger });
  const port = await gateway.listen();
  logger.info(
    { host: config.host, restPort: port, target: config.gatewayTarget, serving: ['rest'] },
    'routeguide gateway serving',
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`routeguide-gateway: failed to start: ${(error as Error)?.message}\n`);
    process.exit(1);
  });
}

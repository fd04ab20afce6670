/**
 * The standalone gateway's composition root: the REST gateway (src/gateway/) in front of a gRPC
 * target (`GATEWAY_TARGET`, e.g. `dns:///routeguide:50051`, balanced round robin by the typed
 * client, plaintext or TLS / mutual TLS per `GATEWAY_TARGET_TLS*`), for deployments that keep
 * their gRPC port private. Calls are forwarded with their Authorization (the target
 * authenticates), deadline and metadata; the gateway applies its own connection guard, stream
 * admission limits and per-message limits, exports its call counters on `METRICS_PORT` and, with
 * tracing on, a server span per REST call whose forwarded call carries the trace to the target.
 * `/healthz` reports the target's grpc.health.v1 status. The process entry is gateway-main.ts.
 */
import type * as grpc from '@grpc/grpc-js';
import { createRouteGuideClient, type RouteGuideClient } from './client/client';
import { readTlsFiles, type TlsOptions } from './client/credentials';
import { ConfigError, type Config } from './config';
import { forwardingHandlers } from './gateway/forwarding-handlers';
import { httpBindings } from './gateway/http-rules';
import { RestGateway } from './gateway/rest-gateway';
import { RestServer } from './gateway/rest-server';
import { AdmissionControl } from './grpc/admission';
import { registerAdmissionMetrics } from './grpc/admission-metrics';
import { ConnectionGuard } from './net/connection-guard';
import { CallCounters } from './observability/call-counters';
import { addConnectionMetrics } from './observability/connection-metrics';
import type { Logger } from './observability/logging';
import { GrpcServerMetrics } from './observability/metrics';
import { METRICS_PORT_MAX_CONNECTIONS, MetricsServer } from './observability/metrics-server';
import { TRACING_OFF, type Tracing } from './observability/tracing';
import { loadRouteGuideProto } from './protocol/proto';

/** How often the target's health is checked for `/healthz`. */
const HEALTH_POLL_MS = 2000;

/** Options for {@link StandaloneGateway}. */
export interface StandaloneGatewayOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** The gRPC target; default `config.gatewayTarget`. */
  readonly target?: string;
  /**
   * Server spans of REST calls, and the forwarded calls' trace context (started by the entry
   * point before @grpc/grpc-js was loaded). Default: off.
   */
  readonly tracing?: Tracing;
}

/**
 * The TLS material of `config.gatewayTargetTls`, read now; undefined: plaintext. An unreadable
 * file is a ConfigError naming its variable.
 */
export function targetTlsOptions(config: Config): TlsOptions | undefined {
  const tls = config.gatewayTargetTls;
  if (tls === undefined) return undefined;
  try {
    return readTlsFiles(tls, {
      caFile: 'GATEWAY_TARGET_CA_FILE',
      certFile: 'GATEWAY_TARGET_CERT_FILE',
      keyFile: 'GATEWAY_TARGET_KEY_FILE',
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** The standalone gateway: a REST port whose handlers forward to a gRPC target. */
export class StandaloneGateway {
  readonly client: RouteGuideClient;
  /** Every REST call counted per method and status code, metrics on or off. */
  readonly calls = new CallCounters();
  /** The Prometheus export of `calls`; absent when `METRICS=false`. */
  readonly metrics: GrpcServerMetrics | undefined;
  private readonly rest: RestServer;
  private readonly metricsServer: MetricsServer | undefined;
  private healthStatus = 'NOT_SERVING';
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StandaloneGatewayOptions) {
    const { config, logger } = options;
    const target = options.target ?? config.gatewayTarget;
    if (target === undefined) throw new ConfigError('GATEWAY_TARGET is required');
    const rest = config.rest;
    if (rest === undefined) throw new ConfigError('REST=false: the gateway has nothing to serve');
    const tls = targetTlsOptions(config);
    // Forwarded calls carry the caller's deadline; none is added for calls without one.
    this.client = createRouteGuideClient({
      target,
      deadlineMs: 2 ** 31 - 1,
      ...(tls !== undefined ? { tls } : {}),
    });
    const { packageDefinition } = loadRouteGuideProto();
    const bindings = httpBindings(packageDefinition);
    const admission = new AdmissionControl({
      maxCalls: config.admission.maxCalls,
      maxCallsPerConnection: config.admission.maxCallsPerConnection,
      pushbackMs: config.admission.pushbackMs,
    });
    const gateway = new RestGateway({
      packageDefinition,
      bindings,
      handler: forwardingHandlers(this.client.stub, packageDefinition, bindings),
      counters: this.calls,
      admission,
      replicaId: config.replicaId,
      health: () => this.healthStatus,
      maxReceiveMessageBytes: config.connections.maxReceiveMessageBytes,
      maxBodyBytes: rest.maxBodyBytes,
      corsOrigins: rest.corsOrigins,
      retryAfterSeconds: Math.max(1, Math.ceil(config.admission.pushbackMs / 1000)),
      tracing: options.tracing ?? TRACING_OFF,
      logger,
    });
    const guards = [this.guard('rest', rest.maxConnections, rest.maxConnectionsPerAddress)];
    this.rest = new RestServer({
      gateway,
      logger,
      host: config.host,
      port: rest.port,
      guard: guards[0]!,
      ...(config.tls ? { tls: config.tls } : {}),
    });
    if (config.metrics.enabled) {
      this.metrics = new GrpcServerMetrics({ counters: this.calls });
      registerAdmissionMetrics(this.metrics.registry, admission, undefined);
      guards.push(this.guard('metrics', METRICS_PORT_MAX_CONNECTIONS));
      addConnectionMetrics(this.metrics.registry, guards);
      this.metricsServer = new MetricsServer({
        registry: this.metrics.registry,
        logger,
        host: config.host,
        port: config.metrics.port,
        guard: guards[1]!,
      });
    }
  }

  /** The bound REST port. */
  get port(): number {
    return this.rest.port;
  }

  /** The bound metrics port, or undefined when metrics are off. */
  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  /** Binds the REST port and the metrics port; resolves with the REST port. */
  async listen(): Promise<number> {
    const port = await this.rest.listen();
    try {
      await this.metricsServer?.listen();
    } catch (error) {
      await this.rest.close(0);
      this.client.close();
      throw error;
    }
    this.pollHealth();
    return port;
  }

  /** Drains the REST port within `graceMs`, then closes the metrics port and the channel. */
  async shutdown(graceMs = this.options.config.shutdown.graceMs): Promise<void> {
    clearTimeout(this.healthTimer);
    await this.rest.close(graceMs);
    await this.metricsServer?.close();
    this.client.close();
  }

  /** A connection guard for one port, with the configured handshake and idle timeouts. */
  private guard(
    port: string,
    maxConnections: number,
    maxConnectionsPerAddress?: number,
  ): ConnectionGuard {
    const { handshakeTimeoutMs, idleTimeoutMs } = this.options.config.connections;
    return new ConnectionGuard({
      port,
      maxConnections,
      maxConnectionsPerAddress,
      handshakeTimeoutMs,
      idleTimeoutMs,
    });
  }

  private pollHealth(): void {
    const check = (): void => {
      this.client.checkHealth('', { deadlineMs: HEALTH_POLL_MS }).then(
        (answer) => (this.healthStatus = answer.value),
        (error: grpc.ServiceError) => {
          this.healthStatus = 'NOT_SERVING';
          this.options.logger.debug(
            { code: error.code, details: error.details },
            'target health check failed',
          );
        },
      );
      this.healthTimer = setTimeout(check, HEALTH_POLL_MS).unref();
    };
    check();
  }
}

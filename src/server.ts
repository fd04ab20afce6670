import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { formatAddress } from './grpc/address';
import { bearerTokenInterceptor } from './grpc/auth';
import type { Config } from './config';
import { ServerHealth } from './grpc/health';
import type { Logger } from './observability/logging';
import { CallCounters } from './observability/call-counters';
import { callObserverInterceptor } from './observability/call-observer';
import { GrpcServerMetrics } from './observability/metrics';
import { MetricsServer } from './observability/metrics-server';
import { loadRouteGuideProto, ROUTE_GUIDE_SERVICE_NAME } from './grpc/proto';
import { acceptPreEncodedResponses } from './grpc/pre-encoded';
import { ServerReflection } from './grpc/reflection';
import type { FeatureDatabase } from './routeguide/features';
import { NotesStore } from './routeguide/notes';
import { createRouteGuideService } from './routeguide/service';
import { serverCredentials } from './grpc/tls';

/** What the composition root needs; everything else it builds itself. */
export interface RouteGuideAppOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Loaded and validated before the server is built, so it never serves half a database. */
  readonly features: FeatureDatabase;
}

/** Names the health service answers for: the whole server (`""`) and RouteGuide. */
export const HEALTH_SERVICE_NAMES: readonly string[] = ['', ROUTE_GUIDE_SERVICE_NAME];

/**
 * The composition root: one gRPC server carrying RouteGuide, health and reflection, with the
 * per-process state shared between calls (notes store, health, metrics registry) and the
 * metrics HTTP server. Owns binding and graceful shutdown.
 */
export class RouteGuideApp {
  readonly server: grpc.Server;
  readonly notes: NotesStore;
  readonly health: ServerHealth;
  /** Every call counted per method and status code, metrics on or off (see `totals()`). */
  readonly calls = new CallCounters();
  /** The Prometheus export of `calls`; absent when `METRICS=false`. */
  readonly metrics: GrpcServerMetrics | undefined;
  private readonly metricsServer: MetricsServer | undefined;
  private readonly options: RouteGuideAppOptions;
  private boundPort: number | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: RouteGuideAppOptions) {
    this.options = options;
    const { config, logger, features } = options;
    this.notes = new NotesStore(config.notes);
    this.health = new ServerHealth(HEALTH_SERVICE_NAMES);

    if (config.metrics.enabled) {
      this.metrics = new GrpcServerMetrics({ counters: this.calls });
      this.metrics.addGauge(
        'routeguide_features_loaded',
        'Features in the loaded database.',
        () => features.size,
      );
      this.metrics.addGauge(
        'routeguide_notes_stored',
        'RouteChat notes currently stored.',
        () => this.notes.size,
      );
      this.metricsServer = new MetricsServer({
        registry: this.metrics.registry,
        logger,
        host: config.host,
        port: config.metrics.port,
      });
    }

    // Order matters: the first interceptor sits next to the transport. The call observer
    // (counting and the replica header, in one layer) first, so it counts what every later one
    // answers (e.g. UNAUTHENTICATED) and even refused calls carry the header; authentication
    // last, closest to the handlers.
    const interceptors: grpc.ServerInterceptor[] = [
      callObserverInterceptor({ counters: this.calls, replicaId: config.replicaId }),
    ];
    if (config.authToken !== undefined) {
      interceptors.push(
        bearerTokenInterceptor({ token: config.authToken, services: [ROUTE_GUIDE_SERVICE_NAME] }),
      );
    }

    const c = config.connections;
    this.server = new grpc.Server({
      interceptors,
      'grpc.max_connection_age_ms': c.maxAgeMs,
      'grpc.max_connection_age_grace_ms': c.maxAgeGraceMs,
      'grpc.keepalive_time_ms': c.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': c.keepaliveTimeoutMs,
      'grpc.max_receive_message_length': c.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': c.maxConcurrentStreams,
    });
    const { proto } = loadRouteGuideProto();
    // The handlers send features as bytes encoded at load (see pre-encoded.ts).
    this.server.addService(
      acceptPreEncodedResponses(proto.routeguide.RouteGuide.service),
      createRouteGuideService({ features, notes: this.notes, logger }),
    );
    this.health.addToServer(this.server);
    if (config.reflection) new ServerReflection().addToServer(this.server);
  }

  /** The bound port (useful when the configured port is 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('server is not bound');
    return this.boundPort;
  }

  /** The bound metrics port, or undefined when metrics are off. */
  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  /**
   * Binds the gRPC port (TLS when configured) and the metrics port, then reports SERVING;
   * resolves with the gRPC port.
   */
  async listen(): Promise<number> {
    const { host, port, tls } = this.options.config;
    const credentials = serverCredentials(tls);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(formatAddress(host, port), credentials, (error, actualPort) =>
        error ? reject(error) : resolve(actualPort),
      );
    });
    try {
      await this.metricsServer?.listen();
    } catch (error) {
      this.server.forceShutdown();
      throw error;
    }
    this.health.setServing(true);
    return this.boundPort;
  }

  /**
   * Graceful shutdown: report NOT_SERVING, wait `shutdown.delayMs` so load balancers stop
   * sending, refuse new calls and let in-flight ones finish, cancel whatever still runs after
   * `graceMs`, then close the metrics server. Calling it again returns the same promise.
   */
  shutdown(graceMs: number = this.options.config.shutdown.graceMs): Promise<void> {
    this.stopping ??= this.stop(graceMs);
    return this.stopping;
  }

  private async stop(graceMs: number): Promise<void> {
    const { config, logger } = this.options;
    this.health.setServing(false);
    if (config.shutdown.delayMs > 0) await delay(config.shutdown.delayMs);
    this.health.endWatches();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        logger.warn({ graceMs }, 'grace period over: cancelling remaining calls');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await this.metricsServer?.close();
  }
}

import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { formatAddress } from './grpc/address';
import { ConnectionAge } from './grpc/connection-age';
import { ServerKeepalive } from './grpc/keepalive';
import { authInterceptor } from './auth/auth-interceptor';
import type { Authenticator } from './auth/authenticator';
import { callerOf } from './auth/call-caller';
import { createAuthenticator, type AuthSetup } from './auth/create-authenticator';
import type { JwksKeys } from './auth/jwks-keys';
import type { Config } from './config';
import { ServerHealth } from './grpc/health';
import { OrcaLoadReporter } from './grpc/orca';
import type { Logger } from './observability/logging';
import { CallCounters } from './observability/call-counters';
import { callObserverInterceptor } from './grpc/call-observer';
import { GrpcServerMetrics } from './observability/metrics';
import { METRICS_PORT_MAX_CONNECTIONS, MetricsServer } from './observability/metrics-server';
import { TRACING_OFF, type Tracing } from './observability/tracing';
import { AdmissionControl } from './grpc/admission';
import { registerAdmissionMetrics } from './grpc/admission-metrics';
import { MemoryBudget } from './observability/memory-budget';
import { cgroupMemoryLimit } from './observability/memory-limit';
import {
  loadRouteGuideProto,
  PROTO_LOADER_OPTIONS,
  ROUTE_GUIDE_PROTO,
  ROUTE_GUIDE_SERVICE_NAME,
} from './protocol/proto';
import { acceptPreEncodedResponses } from './service/pre-encoded';
import { REFLECTION_SERVICE_NAMES, ServerReflection } from './grpc/reflection';
import type { FeatureDatabase } from './routeguide/features';
import type { NotesStore } from './routeguide/notes';
import { MemoryNotesStore } from './stores/memory-notes';
import { NotesStoreMetrics } from './stores/store-metrics';
import { RedisNotesStore } from './stores/redis-notes';
import { createRouteGuideService } from './service/route-guide';
import { HEALTH_PORT_MAX_CONNECTIONS, HealthPort } from './grpc/health-port';
import { guardConnections } from './grpc/http2-sessions';
import { ConnectionGuard } from './net/connection-guard';
import { addConnectionMetrics } from './observability/connection-metrics';
import { ServerTls } from './grpc/tls';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ApiDocs } from './gateway/api-docs';
import { httpBindings, type HttpBinding } from './gateway/http-rules';
import { buildOpenApiDocument } from './gateway/openapi';
import { loadProtoComments } from './gateway/proto-comments';
import { RestGateway, type GrpcHandler } from './gateway/rest-gateway';
import { RestServer } from './gateway/rest-server';
import type { RouteGuideHandlers } from './generated/routeguide/RouteGuide';

/** What the composition root needs; everything else it builds itself. */
export interface RouteGuideAppOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Loaded and validated before the server is built, so it never serves half a database. */
  readonly features: FeatureDatabase;
  /**
   * Started by the entry point before @grpc/grpc-js was loaded (see observability/tracing.ts).
   * Default: off.
   */
  readonly tracing?: Tracing;
  /** Resident set size sampler of the memory budget (tests). Default: `process.memoryUsage.rss`. */
  readonly rss?: () => number;
}

/** The OpenTelemetry attribute naming the authenticated caller (never a metric label). */
export const ENDUSER_ID_ATTRIBUTE = 'enduser.id';

/** Names the health service answers for: the whole server (`""`) and RouteGuide. */
export const HEALTH_SERVICE_NAMES: readonly string[] = ['', ROUTE_GUIDE_SERVICE_NAME];

/**
 * The composition root: one gRPC server carrying RouteGuide, health and reflection, with the
 * per-process state shared between calls (notes store, health, metrics registry) and the
 * metrics HTTP server. Owns binding and graceful shutdown.
 */
export class RouteGuideApp {
  readonly server: grpc.Server;
  /** The notes store (in memory, or Redis when `REDIS_URL` is set). */
  readonly notes: NotesStore;
  readonly health: ServerHealth;
  /** Every call counted per method and status code, metrics on or off (see `totals()`). */
  readonly calls = new CallCounters();
  /** The Prometheus export of `calls`; absent when `METRICS=false`. */
  readonly metrics: GrpcServerMetrics | undefined;
  /** Tracing facade for stores and other dependencies (`withSpan`); a no-op when tracing is off. */
  readonly tracing: Tracing;
  /** ORCA load reports; absent when `ORCA=false`. */
  readonly orca: OrcaLoadReporter | undefined;
  /** Overload protection of streaming calls, with the memory budget when there is one. */
  readonly admission: AdmissionControl;
  /**
   * The one policy deciding who may call what (AUTH_TOKEN, JWT, or either), for every face
   * (the gRPC interceptor here, the REST gateway); undefined when every call is open.
   */
  readonly authenticator: Authenticator | undefined;
  /** The JWT verification keys when AUTH_JWKS_URL or AUTH_JWKS_FILE is set. */
  readonly jwksKeys: JwksKeys | undefined;
  private serving = false;
  /**
   * The RouteGuide handlers both faces run: the gRPC server registers them, the REST gateway
   * calls them in-process (traced when tracing is on).
   */
  readonly handlers: RouteGuideHandlers;
  /** The REST gateway's port; absent when `REST=false`. */
  private readonly restServer: RestServer | undefined;
  private readonly metricsServer: MetricsServer | undefined;
  private readonly connectionAge: ConnectionAge;
  private readonly keepalive: ServerKeepalive;
  private healthPortServer: HealthPort | undefined;
  private readonly guards: ConnectionGuard[] = [];
  private readonly grpcGuard: ConnectionGuard;
  private tls: ServerTls | undefined;
  private readonly options: RouteGuideAppOptions;
  private boundPort: number | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: RouteGuideAppOptions) {
    this.options = options;
    const { config, logger, features } = options;
    this.tracing = options.tracing ?? TRACING_OFF;
    // Notes in Redis (shared by every replica) when configured, else in this process. Health
    // does not follow Redis: one feature's dependency must not take a replica out of the
    // balancer for the three RPCs that do not need it (RouteChat answers UNAVAILABLE instead).
    const redis = createRedisStore(config, logger, this.tracing);
    this.notes = redis ?? new MemoryNotesStore(config.notes);
    // What the handlers use: the store, timed and counted when metrics are on.
    let notes: NotesStore = this.notes;
    this.health = new ServerHealth(HEALTH_SERVICE_NAMES);
    this.grpcGuard = this.guardPort(
      'grpc',
      config.connections.maxConnections,
      config.connections.maxConnectionsPerAddress,
    );

    if (config.metrics.enabled) {
      this.metrics = new GrpcServerMetrics({ counters: this.calls });
      notes = this.meterNotes(this.metrics, redis);
      this.metricsServer = this.createMetricsServer(this.metrics);
    }
    this.admission = createAdmission(config.admission, options.rss);
    if (this.metrics) {
      registerAdmissionMetrics(this.metrics.registry, this.admission, this.admission.memory);
    }
    this.orca = config.orca.enabled ? this.createOrca() : undefined;
    const auth = this.createAuth();
    this.authenticator = auth?.authenticator;
    this.jwksKeys = auth?.keys;
    this.handlers = this.tracing.traceHandlers(
      createRouteGuideService({ features, notes, logger, subjectOf: callSubject }),
      (call) => ({
        [ENDUSER_ID_ATTRIBUTE]: callSubject(call),
      }),
    );

    const c = config.connections;
    this.server = new grpc.Server({
      interceptors: this.interceptors(),
      // Max connection age and keepalive are ConnectionAge's and ServerKeepalive's job, not
      // grpc-js's: its keepalive kills connections draining after a GOAWAY (keepalive.ts).
      'grpc.max_receive_message_length': c.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': c.maxConcurrentStreams,
    });
    this.connectionAge = new ConnectionAge({
      maxAgeMs: c.maxAgeMs,
      ...(c.maxAgeGraceMs !== undefined ? { graceMs: c.maxAgeGraceMs } : {}),
    });
    this.keepalive = new ServerKeepalive({
      timeMs: c.keepaliveTimeMs,
      timeoutMs: c.keepaliveTimeoutMs,
    });
    this.addServices();
    this.restServer = config.rest ? this.createRestServer(config.rest) : undefined;
  }

  /**
   * The REST gateway on its own guarded port: routes from the proto's annotations, the same
   * handler instances, authenticator, call counters and admission control as the gRPC server.
   */
  private createRestServer(rest: NonNullable<Config['rest']>): RestServer {
    const { config, logger } = this.options;
    const { packageDefinition } = loadRouteGuideProto();
    const bindings = httpBindings(packageDefinition);
    const handlers = this.handlers as unknown as Record<string, GrpcHandler>;
    const prefix = `/${ROUTE_GUIDE_SERVICE_NAME}/`;
    const gateway = new RestGateway({
      packageDefinition,
      bindings,
      handler: (path) =>
        path.startsWith(prefix) ? handlers[path.slice(prefix.length)] : undefined,
      ...(this.authenticator ? { authenticator: this.authenticator } : {}),
      counters: this.calls,
      admission: this.admission,
      replicaId: config.replicaId,
      health: () => this.health.status,
      maxReceiveMessageBytes: config.connections.maxReceiveMessageBytes,
      maxBodyBytes: rest.maxBodyBytes,
      corsOrigins: rest.corsOrigins,
      retryAfterSeconds: Math.max(1, Math.ceil(config.admission.pushbackMs / 1000)),
      tracing: this.tracing,
      // The OpenAPI document and Swagger UI answer their GET routes first.
      docs: this.createApiDocs(bindings, packageDefinition),
      logger,
    });
    return new RestServer({
      gateway,
      logger,
      host: config.host,
      port: rest.port,
      guard: this.guardPort('rest', rest.maxConnections, rest.maxConnectionsPerAddress),
      ...(config.tls ? { tls: config.tls } : {}),
    });
  }

  /**
   * `/openapi.json` and Swagger UI: the document generated from the same bindings and
   * descriptors, with the bearer scheme and each method's scopes when callers must authenticate.
   */
  private createApiDocs(
    bindings: readonly HttpBinding[],
    packageDefinition: PackageDefinition,
  ): ApiDocs {
    const { jwt } = this.options.config;
    const document = buildOpenApiDocument({
      bindings,
      packageDefinition,
      comments: loadProtoComments(ROUTE_GUIDE_PROTO, PROTO_LOADER_OPTIONS.includeDirs ?? []),
      bearerAuth: this.authenticator !== undefined,
      requiredScopes: jwt?.scopes ?? {},
    });
    return new ApiDocs({ document });
  }

  /**
   * Registers the features and notes store metrics; returns the store the handlers use, timed
   * and counted.
   */
  private meterNotes(metrics: GrpcServerMetrics, redis: RedisNotesStore | undefined): NotesStore {
    metrics.addGauge(
      'routeguide_features_loaded',
      'Features in the loaded database.',
      () => this.options.features.size,
    );
    const storeMetrics = new NotesStoreMetrics({
      registry: metrics.registry,
      store: redis === undefined ? 'memory' : 'redis',
    });
    if (redis === undefined) {
      metrics.addGauge(
        'routeguide_notes_stored',
        'RouteChat notes currently stored.',
        () => this.notes.size ?? 0,
      );
    } else {
      storeMetrics.addConnectedGauge(() => redis.connected);
    }
    return storeMetrics.instrument(this.notes);
  }

  /** The metrics HTTP server, and the connection metrics of every guarded port. */
  private createMetricsServer(metrics: GrpcServerMetrics): MetricsServer {
    const { config, logger } = this.options;
    const server = new MetricsServer({
      registry: metrics.registry,
      logger,
      host: config.host,
      port: config.metrics.port,
      guard: this.guardPort('metrics', METRICS_PORT_MAX_CONNECTIONS),
    });
    addConnectionMetrics(metrics.registry, this.guards);
    return server;
  }

  /** ORCA load reports: QPS and errors per second from the call counters (kept with metrics on or off). */
  private createOrca(): OrcaLoadReporter {
    const { config, logger } = this.options;
    const calls = this.calls;
    const memory = this.admission.memory;
    return new OrcaLoadReporter({
      totals: () => calls.totals(),
      minReportIntervalMs: config.orca.minReportIntervalMs,
      ...(memory ? { memoryUtilization: () => memory.usedRatio } : {}),
      onError: (error) => logger.warn({ err: error }, 'ORCA load report failed'),
    });
  }

  /**
   * The authenticator of AUTH_TOKEN and/or JWT: RouteGuide (and reflection with AUTH_REFLECTION)
   * need a credential; health and ORCA stay open for probes and load reports.
   */
  private createAuth(): AuthSetup | undefined {
    const { config, logger } = this.options;
    return createAuthenticator({
      ...(config.authToken !== undefined ? { token: config.authToken } : {}),
      ...(config.jwt !== undefined ? { jwt: config.jwt } : {}),
      services: [
        ROUTE_GUIDE_SERVICE_NAME,
        ...(config.authReflection ? REFLECTION_SERVICE_NAMES : []),
      ],
      onKeysLoaded: (keyCount) => {
        logger.info({ keyCount }, 'JWT signing keys loaded');
        if (this.serving && !this.stopping) this.health.setServing(true);
      },
      onKeysError: (error) =>
        logger.warn(
          { err: error, usable: this.jwksKeys?.usable },
          'JWT signing keys not refreshed',
        ),
    });
  }

  /**
   * The server's interceptors. Order matters: the first sits next to the transport. The call
   * observer (counting and the replica header, in one layer) first, so it counts what every
   * later one answers (e.g. UNAUTHENTICATED) and even refused calls carry the header;
   * authentication last, closest to the handlers.
   */
  private interceptors(): grpc.ServerInterceptor[] {
    const { config } = this.options;
    const interceptors: grpc.ServerInterceptor[] = [
      callObserverInterceptor({
        counters: this.calls,
        replicaId: config.replicaId,
        admission: this.admission,
      }),
    ];
    if (this.authenticator !== undefined) {
      const { logger } = this.options;
      interceptors.push(
        authInterceptor(
          this.authenticator,
          (error) => logger.error({ err: error }, 'authentication failed'),
          (method, failure) =>
            logger.debug({ method, kind: failure.kind, reason: failure.message }, 'call refused'),
        ),
      );
    }
    return interceptors;
  }

  /** RouteGuide, health, and as configured the plaintext health port, reflection and ORCA. */
  private addServices(): void {
    const { config } = this.options;
    const { proto } = loadRouteGuideProto();
    // The handlers send features as bytes encoded at load (see pre-encoded.ts).
    this.server.addService(
      acceptPreEncodedResponses(proto.routeguide.RouteGuide.service),
      this.handlers,
    );
    this.health.addToServer(this.server);
    if (config.healthPort !== undefined) {
      const guard = this.guardPort('health', HEALTH_PORT_MAX_CONNECTIONS);
      this.healthPortServer = new HealthPort(this.health, guard);
    }
    if (config.reflection) new ServerReflection().addToServer(this.server);
    this.orca?.addToServer(this.server);
  }

  /** Connection guards of the gRPC port and, when enabled, the metrics and health ports. */
  get connectionGuards(): readonly ConnectionGuard[] {
    return this.guards;
  }

  /** A connection guard for one port, with the configured handshake and idle timeouts. */
  private guardPort(
    port: string,
    maxConnections: number,
    maxConnectionsPerAddress?: number,
  ): ConnectionGuard {
    const { handshakeTimeoutMs, idleTimeoutMs } = this.options.config.connections;
    const guard = new ConnectionGuard({
      port,
      maxConnections,
      maxConnectionsPerAddress,
      handshakeTimeoutMs,
      idleTimeoutMs,
    });
    this.guards.push(guard);
    return guard;
  }

  /** The bound port (useful when the configured port is 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('server is not bound');
    return this.boundPort;
  }

  /** The bound plaintext health port, or undefined without HEALTH_PORT. */
  get healthPort(): number | undefined {
    return this.healthPortServer?.port;
  }

  /** The bound REST port, or undefined when `REST=false`. */
  get restPort(): number | undefined {
    return this.restServer?.port;
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
    const { config, logger } = this.options;
    const { host, port, tls } = config;
    try {
      this.tls = new ServerTls({
        tls,
        logger,
        ...(tls ? { reloadIntervalMs: tls.reloadIntervalMs } : {}),
      });
      const credentials = this.tls.credentials;
      this.boundPort = await new Promise<number>((resolve, reject) => {
        this.server.bindAsync(formatAddress(host, port), credentials, (error, actualPort) =>
          error ? reject(error) : resolve(actualPort),
        );
      });
      this.connectionAge.attach(this.server);
      this.keepalive.attach(this.server);
      guardConnections(this.server, this.grpcGuard);
      try {
        await this.tls.ready();
        if (config.healthPort !== undefined) {
          await this.healthPortServer?.listen(host, config.healthPort);
        }
        await this.metricsServer?.listen();
        await this.restServer?.listen();
      } catch (error) {
        this.server.forceShutdown();
        this.healthPortServer?.forceClose();
        await this.restServer?.close(0);
        await this.metricsServer?.close();
        this.tls.close();
        throw error;
      }
    } catch (error) {
      // A server that never served releases its notes store (a Redis client reconnects forever).
      await this.notes.close();
      throw error;
    }
    this.admission.memory?.start();
    this.orca?.start();
    await this.jwksKeys?.start();
    this.serving = true;
    // JWT without any key loaded refuses every call: NOT_SERVING until keys arrive.
    this.health.setServing(this.jwksKeys === undefined || this.jwksKeys.everLoaded);
    return this.boundPort;
  }

  /**
   * Graceful shutdown: report NOT_SERVING, wait `shutdown.delayMs` so load balancers stop
   * sending, refuse new calls and let in-flight ones finish, cancel whatever still runs after
   * `graceMs`, then close the metrics server and the notes store. Calling it again returns the
   * same promise.
   */
  shutdown(graceMs: number = this.options.config.shutdown.graceMs): Promise<void> {
    this.stopping ??= this.stop(graceMs);
    return this.stopping;
  }

  private async stop(graceMs: number): Promise<void> {
    const { config, logger } = this.options;
    this.health.setServing(false);
    this.jwksKeys?.close();
    this.connectionAge.stop();
    this.keepalive.stop();
    if (config.shutdown.delayMs > 0) await delay(config.shutdown.delayMs);
    this.health.endWatches();
    // Load report streams never end by themselves either; clients keep their last weights.
    this.orca?.stop();
    this.admission.memory?.stop();
    // Both faces stop taking calls together and drain within the same grace period.
    const grpcDrained = new Promise<void>((resolve) => {
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
    await Promise.all([grpcDrained, this.restServer?.close(graceMs)]);
    // The health port closes last, so probes see NOT_SERVING through the whole drain.
    await this.healthPortServer?.close();
    this.tls?.close();
    await this.metricsServer?.close();
    await this.notes.close();
  }
}

/**
 * Who made a call, for its span and log lines: the verified token's subject, else the client
 * certificate's subject under mTLS (on either face: REST calls report their TLS peer too).
 * Computed only for recorded spans and logged failures.
 */
function callSubject(call: { readonly metadata: object }): string | undefined {
  const subject = callerOf(call.metadata)?.subject;
  if (subject !== undefined) return subject;
  const context = (
    call as Partial<Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>>
  ).getAuthContext?.();
  const certificate = context?.sslPeerCertificate?.subject;
  return certificate === undefined ? undefined : formatCertificateSubject(certificate);
}

/** `CN=client,O=example`: the subject's fields in the order Node lists them. */
function formatCertificateSubject(
  subject: Readonly<Record<string, string | string[] | undefined>>,
): string {
  return Object.entries(subject)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(',');
}

/** The Redis notes store when `REDIS_URL` is set. */
function createRedisStore(
  config: Config,
  logger: Logger,
  tracing: Tracing,
): RedisNotesStore | undefined {
  if (config.redis === undefined) return undefined;
  return new RedisNotesStore({
    url: config.redis.url,
    cluster: config.redis.cluster,
    keyPrefix: config.redis.keyPrefix,
    ttlSeconds: config.redis.ttlSeconds,
    commandTimeoutMs: config.redis.commandTimeoutMs,
    maxPerLocation: config.notes.maxPerLocation,
    logger,
    tracing,
  });
}

/** Admission control as configured; the memory budget defaults to the cgroup's memory limit. */
function createAdmission(
  config: Config['admission'],
  rss: (() => number) | undefined,
): AdmissionControl {
  const limitBytes = config.memoryLimitBytes ?? cgroupMemoryLimit() ?? 0;
  const memory =
    limitBytes > 0
      ? new MemoryBudget({
          limitBytes,
          softPercent: config.memorySoftPercent,
          hardPercent: config.memoryHardPercent,
          ...(rss ? { rss } : {}),
        })
      : undefined;
  return new AdmissionControl({
    maxCalls: config.maxCalls,
    maxCallsPerConnection: config.maxCallsPerConnection,
    pushbackMs: config.pushbackMs,
    ...(memory ? { memory } : {}),
  });
}

import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { Feature__Output } from '../generated/routeguide/Feature';
import type { Point } from '../generated/routeguide/Point';
import type { Rectangle } from '../generated/routeguide/Rectangle';
import type { RouteGuideClient as RouteGuideStub } from '../generated/routeguide/RouteGuide';
import type { RouteNote, RouteNote__Output } from '../generated/routeguide/RouteNote';
import type { RouteSummary__Output } from '../generated/routeguide/RouteSummary';
import { REPLICA_HEADER } from '../protocol/replica';
import {
  loadHealthClientConstructor,
  loadRouteGuideProto,
  type HealthClient,
  type HealthStatus,
} from '../protocol/proto';
import { channelCredentials, withBearerToken, type TlsOptions } from './credentials';
import { TokenFile } from './token-file';
import {
  DEFAULT_RETRY,
  defaultServiceConfig,
  type LoadBalancingOptions,
  type RetryOptions,
} from './service-config';
import { DEFAULT_TARGET, isXdsTarget } from './targets';
import { registerXds } from './xds';

/** How to reach RouteGuide. */
export interface RouteGuideClientOptions {
  /**
   * gRPC target: `host:port`, `dns:///name:port`, `dns://DNS_IP:PORT/name:port`,
   * `ipv4:a:p,b:p,...` or `xds:///name`. Default `localhost:50051`.
   */
  readonly target?: string;
  /** TLS material; default: plaintext. */
  readonly tls?: TlsOptions;
  /** Sent as `authorization: Bearer <token>` on every call; default: no header. */
  readonly token?: string;
  /**
   * A file holding the bearer token, re-read (when it changed) for every call so rotated tokens
   * are sent; exclusive with `token`. Default: none.
   */
  readonly tokenFile?: string;
  /**
   * Deadline of each GetFeature and health check (all retries included) in ms, unless the call
   * says otherwise. Default 10000.
   */
  readonly deadlineMs?: number;
  /**
   * Deadline of each stream — ListFeatures, RecordRoute, RouteChat — in ms, unless the call says
   * otherwise. Default: none. A stream lasts as long as it needs (a whole-database listing read
   * slowly, a chat held open for hours); bound it per call (`deadlineMs`) or cancel it when a
   * limit matters. The server's connection-age rebalancing never cuts a stream.
   */
  readonly streamDeadlineMs?: number;
  /** Retry tuning for GetFeature and ListFeatures; defaults in DEFAULT_RETRY. */
  readonly retry?: RetryOptions;
  /**
   * Balancing: `round_robin` (default) or `weighted_round_robin` (weights from the replicas'
   * ORCA load reports), optionally under outlier detection. See service-config.ts. Ignored for
   * xds: targets and when `serviceConfig` is given.
   */
  readonly loadBalancing?: LoadBalancingOptions;
  /**
   * Replaces the default service config (round robin + retries) entirely. Ignored for xds:
   * targets, whose control plane sends the config.
   */
  readonly serviceConfig?: Record<string, unknown>;
  /** Extra grpc-js channel options, applied last (e.g. `grpc.dns_min_time_between_resolutions_ms`). */
  readonly channelOptions?: grpc.ChannelOptions;
}

export const DEFAULT_DEADLINE_MS = 10_000;

/** Per-call overrides. */
export interface CallOptions {
  /** This call's deadline in ms; default: the client's `deadlineMs` (`streamDeadlineMs` for streams). */
  readonly deadlineMs?: number;
}

/** A call's result with the replica that answered it (from `x-routeguide-replica`). */
export interface Answered<T> {
  readonly value: T;
  /** Undefined when the server did not say (an older server, or a proxy that drops it). */
  readonly replica: string | undefined;
}

export type { HealthStatus } from '../protocol/proto';

function replicaOf(metadata: grpc.Metadata | undefined): string | undefined {
  const value = metadata?.get(REPLICA_HEADER)[0];
  return value === undefined ? undefined : String(value);
}

/** Keeps the replica from the response headers, or from the trailers of an early error. */
function trackReplica(call: grpc.Call | grpc.ClientUnaryCall): { replica(): string | undefined } {
  let replica: string | undefined;
  call.on('metadata', (metadata: grpc.Metadata) => (replica ??= replicaOf(metadata)));
  call.on('status', (status: grpc.StatusObject) => (replica ??= replicaOf(status.metadata)));
  return { replica: () => replica };
}

/**
 * A typed RouteGuide client over one channel. GetFeature and health checks have a deadline,
 * streams none by default (see streamDeadlineMs); GetFeature and ListFeatures are retried on
 * UNAVAILABLE (see service-config.ts); results say which replica
 * answered. Errors are grpc-js ServiceErrors (with `code`, `details`, `metadata`).
 */
export class RouteGuideClient {
  /** The generated grpc-js client, for anything this class does not wrap. */
  readonly stub: RouteGuideStub;
  readonly target: string;
  private readonly deadlineMs: number;
  private readonly streamDeadlineMs: number | undefined;
  private readonly retry: Required<RetryOptions>;
  private readonly interceptors: grpc.Interceptor[];
  private health: HealthClient | undefined;

  constructor(options: RouteGuideClientOptions = {}) {
    this.target = options.target ?? DEFAULT_TARGET;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.streamDeadlineMs = options.streamDeadlineMs;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.interceptors = bearerInterceptors(options);
    const xds = isXdsTarget(this.target);
    if (xds) registerXds();
    const channelOptions: grpc.ClientOptions = {
      // The service config is ours, not whatever a DNS TXT record might say.
      'grpc.service_config_disable_resolution': 1,
      ...(xds
        ? {}
        : {
            'grpc.service_config': JSON.stringify(
              options.serviceConfig ?? defaultServiceConfig(options.retry, options.loadBalancing),
            ),
          }),
      ...(options.tls?.serverName
        ? { 'grpc.ssl_target_name_override': options.tls.serverName }
        : {}),
      interceptors: this.interceptors,
      ...options.channelOptions,
    };
    const { proto } = loadRouteGuideProto();
    this.stub = new proto.routeguide.RouteGuide(
      this.target,
      channelCredentials(options.tls),
      channelOptions,
    );
  }

  private callOptions(options: CallOptions | undefined): grpc.CallOptions {
    return { deadline: Date.now() + (options?.deadlineMs ?? this.deadlineMs) };
  }

  /** A stream's options: its own deadline, else the client's stream deadline, else none. */
  private streamOptions(options: CallOptions | undefined): grpc.CallOptions {
    const deadlineMs = options?.deadlineMs ?? this.streamDeadlineMs;
    return deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
  }

  /**
   * GetFeature, retried by grpc-js on UNAVAILABLE before any response arrived and, as a read,
   * re-sent by this library when a connection dropped mid-response (see RetryOptions.reattempts).
   */
  async getFeature(point: Point, options?: CallOptions): Promise<Answered<Feature__Output>> {
    const deadline = Date.now() + (options?.deadlineMs ?? this.deadlineMs);
    let backoffMs = this.retry.initialBackoffMs;
    for (let reattempt = 0; ; reattempt++) {
      try {
        return await this.getFeatureOnce(point, deadline);
      } catch (error) {
        const unavailable = (error as grpc.ServiceError).code === grpc.status.UNAVAILABLE;
        if (
          !unavailable ||
          reattempt >= this.retry.reattempts ||
          Date.now() + backoffMs >= deadline
        ) {
          throw error;
        }
        await delay(Math.random() * backoffMs);
        backoffMs = Math.min(backoffMs * this.retry.backoffMultiplier, this.retry.maxBackoffMs);
      }
    }
  }

  private getFeatureOnce(point: Point, deadline: number): Promise<Answered<Feature__Output>> {
    return new Promise((resolve, reject) => {
      const call = this.stub.GetFeature(point, { deadline }, (error, feature) =>
        error ? reject(error) : resolve({ value: feature!, replica: tracked.replica() }),
      );
      const tracked = trackReplica(call);
    });
  }

  /** Streams the features inside `rectangle`; `onFeature` sees each as it arrives. */
  listFeatures(
    rectangle: Rectangle,
    options?: CallOptions & { onFeature?: (feature: Feature__Output) => void },
  ): Promise<Answered<Feature__Output[]>> {
    return new Promise((resolve, reject) => {
      const features: Feature__Output[] = [];
      const call = this.stub.ListFeatures(rectangle, this.streamOptions(options));
      const tracked = trackReplica(call);
      call.on('data', (feature: Feature__Output) => {
        features.push(feature);
        options?.onFeature?.(feature);
      });
      call.on('error', reject);
      call.on('end', () => resolve({ value: features, replica: tracked.replica() }));
    });
  }

  recordRoute(
    points: readonly Point[],
    options?: CallOptions,
  ): Promise<Answered<RouteSummary__Output>> {
    return new Promise((resolve, reject) => {
      const call = this.stub.RecordRoute(this.streamOptions(options), (error, summary) =>
        error ? reject(error) : resolve({ value: summary!, replica: tracked.replica() }),
      );
      const tracked = trackReplica(call);
      for (const point of points) call.write(point);
      call.end();
    });
  }

  /** Sends `notes`, half-closes, and collects what the server sends back. */
  routeChat(
    notes: readonly RouteNote[],
    options?: CallOptions & { onNote?: (note: RouteNote__Output) => void },
  ): Promise<Answered<RouteNote__Output[]>> {
    return new Promise((resolve, reject) => {
      const received: RouteNote__Output[] = [];
      const call = this.stub.RouteChat(this.streamOptions(options));
      const tracked = trackReplica(call);
      call.on('data', (note: RouteNote__Output) => {
        received.push(note);
        options?.onNote?.(note);
      });
      call.on('error', reject);
      call.on('end', () => resolve({ value: received, replica: tracked.replica() }));
      for (const note of notes) call.write(note);
      call.end();
    });
  }

  /** grpc.health.v1.Health/Check over the same channel ('' = the whole server). */
  checkHealth(service = '', options?: CallOptions): Promise<Answered<HealthStatus>> {
    const stub = (this.health ??= this.healthStub());
    return new Promise((resolve, reject) => {
      const call = stub.Check(
        { service },
        new grpc.Metadata(),
        this.callOptions(options),
        (error, response) =>
          error ? reject(error) : resolve({ value: response!.status, replica: tracked.replica() }),
      );
      const tracked = trackReplica(call);
    });
  }

  private healthStub(): HealthClient {
    const Health = loadHealthClientConstructor();
    // channelOverride shares this client's channel; the credentials argument is then unused.
    return new Health(this.target, grpc.credentials.createInsecure(), {
      channelOverride: this.stub.getChannel(),
      interceptors: this.interceptors,
    });
  }

  /** Resolves once the channel is connected (to at least one replica), or rejects at the deadline. */
  waitForReady(timeoutMs = this.deadlineMs): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stub.waitForReady(Date.now() + timeoutMs, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }

  close(): void {
    this.health?.close();
    this.stub.close();
  }
}

/** Builds a typed RouteGuide client; see RouteGuideClientOptions for the defaults. */
export function createRouteGuideClient(options: RouteGuideClientOptions = {}): RouteGuideClient {
  return new RouteGuideClient(options);
}

/** The interceptor sending the configured bearer token, if any. */
function bearerInterceptors(options: RouteGuideClientOptions): grpc.Interceptor[] {
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new Error('give a bearer token or a token file, not both');
  }
  if (options.tokenFile !== undefined) {
    const file = new TokenFile(options.tokenFile);
    return [withBearerToken(() => file.read())];
  }
  return options.token ? [withBearerToken(options.token)] : [];
}

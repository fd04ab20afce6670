import * as grpc from '@grpc/grpc-js';
import type { Config } from './config';
import type { Logger } from './observability/logging';
import { replicaIdInterceptor } from './observability/replica';
import { loadRouteGuideProto } from './proto';
import type { FeatureDatabase } from './routeguide/features';
import { NotesStore } from './routeguide/notes';
import { createRouteGuideService } from './routeguide/service';

/** What the composition root needs; everything else it builds itself. */
export interface RouteGuideAppOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Loaded and validated before the server is built, so it never serves half a database. */
  readonly features: FeatureDatabase;
}

/** `host:port` as grpc-js expects it, bracketing IPv6 literals. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The composition root: one gRPC server carrying RouteGuide, with the per-process state it
 * shares between calls (the notes store). Owns binding and shutdown.
 */
export class RouteGuideApp {
  readonly server: grpc.Server;
  readonly notes: NotesStore;
  private readonly options: RouteGuideAppOptions;
  private boundPort: number | undefined;

  constructor(options: RouteGuideAppOptions) {
    this.options = options;
    const { config, logger, features } = options;
    this.notes = new NotesStore(config.notes);
    const c = config.connections;
    this.server = new grpc.Server({
      interceptors: [replicaIdInterceptor(config.replicaId)],
      'grpc.max_connection_age_ms': c.maxAgeMs,
      'grpc.max_connection_age_grace_ms': c.maxAgeGraceMs,
      'grpc.keepalive_time_ms': c.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': c.keepaliveTimeoutMs,
      'grpc.max_receive_message_length': c.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': c.maxConcurrentStreams,
    });
    const { proto } = loadRouteGuideProto();
    this.server.addService(
      proto.routeguide.RouteGuide.service,
      createRouteGuideService({ features, notes: this.notes, logger }),
    );
  }

  /** The bound port (useful when the configured port is 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('server is not bound');
    return this.boundPort;
  }

  /** Binds the configured address; resolves with the actual port. */
  async listen(): Promise<number> {
    const { host, port } = this.options.config;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(
        formatAddress(host, port),
        grpc.ServerCredentials.createInsecure(),
        (error, actualPort) => (error ? reject(error) : resolve(actualPort)),
      );
    });
    return this.boundPort;
  }

  /**
   * Stops accepting calls and lets in-flight ones finish; whatever is still running after
   * `graceMs` is cancelled.
   */
  async shutdown(graceMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.options.logger.warn({ graceMs }, 'grace period over: cancelling remaining calls');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

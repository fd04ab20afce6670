import * as grpc from '@grpc/grpc-js';
import { formatAddress } from './address';
import type { ConnectionGuard } from '../net/connection-guard';
import type { ServerHealth } from './health';
import { guardConnections } from './http2-sessions';

/** Connection cap of the health port: probes open one connection at a time. */
export const HEALTH_PORT_MAX_CONNECTIONS = 32;

/**
 * An optional second, plaintext port serving only `grpc.health.v1.Health`, with the same
 * statuses as the main port (one shared {@link ServerHealth}), for probes that cannot speak
 * TLS: Kubernetes' native gRPC probes and the container HEALTHCHECK. It carries nothing else,
 * so plaintext exposes no data; it stops after the main port during shutdown, so probes see
 * NOT_SERVING through the whole drain.
 */
export class HealthPort {
  private readonly server = new grpc.Server();
  private boundPort: number | undefined;

  /** `guard` (its own, so a full main port cannot fail the probes) applies once bound. */
  constructor(
    health: ServerHealth,
    private readonly guard?: ConnectionGuard,
  ) {
    health.addToServer(this.server);
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async listen(host: string, port: number): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(
        formatAddress(host, port),
        grpc.ServerCredentials.createInsecure(),
        (error, actualPort) => (error ? reject(error) : resolve(actualPort)),
      ),
    );
    if (this.guard !== undefined) guardConnections(this.server, this.guard);
    return this.boundPort;
  }

  /** Stops accepting and ends the remaining health calls (Watch streams end with the app's). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  forceClose(): void {
    this.server.forceShutdown();
  }
}

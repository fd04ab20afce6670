import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectionGuard } from '../net/connection-guard';
import type { Logger } from '../observability/logging';
import type { RestGateway } from './rest-gateway';

/** Default of {@link RestServerOptions.keepAliveTimeoutMs}: Node's own. */
export const DEFAULT_REST_KEEP_ALIVE_TIMEOUT_MS = 5000;

/** Options for {@link RestServer}. */
export interface RestServerOptions {
  readonly gateway: RestGateway;
  readonly logger: Logger;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /**
   * Guards the port: connection cap, and a deadline for the first request head (slowloris);
   * later heads get Node's `headersTimeout`, lowered to the same deadline. Required.
   */
  readonly guard: ConnectionGuard;
  /**
   * An idle keep-alive connection is closed after this long (Node's `keepAliveTimeout`).
   * Default {@link DEFAULT_REST_KEEP_ALIVE_TIMEOUT_MS}.
   */
  readonly keepAliveTimeoutMs?: number;
}

/**
 * The REST port: a node:http server running the gateway. Node's `requestTimeout` is off, as
 * client streams (RecordRoute) may upload for as long as a gRPC stream; a request head must
 * arrive within the guard's deadline, and every call's body is bounded per message.
 */
export class RestServer {
  private readonly server: http.Server;
  private boundPort: number | undefined;

  constructor(private readonly options: RestServerOptions) {
    this.server = http.createServer(
      {
        requestTimeout: 0,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_REST_KEEP_ALIVE_TIMEOUT_MS,
      },
      options.gateway.handle,
    );
    options.guard.attachHttp1(this.server);
    this.server.on('upgrade', options.gateway.handleUpgrade);
    this.server.on('clientError', (_error, socket) => {
      if (socket.writable && !socket.destroyed) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      }
      socket.destroy();
    });
  }

  /** The bound port (useful when the configured port is 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('REST server is not bound');
    return this.boundPort;
  }

  /** The underlying server (WebSocket upgrades attach to it). */
  get httpServer(): http.Server {
    return this.server;
  }

  async listen(): Promise<number> {
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (error) =>
      this.options.logger.error({ err: error }, 'REST server error'),
    );
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /**
   * Stops accepting connections, closes idle ones, lets calls in progress finish for `graceMs`
   * (new requests on open connections get 503), cancels the rest, then closes every connection.
   */
  async close(graceMs: number): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await this.options.gateway.drain(graceMs);
    this.server.closeAllConnections();
    await closed;
  }
}

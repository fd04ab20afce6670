import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerTlsFiles } from '../grpc/tls';
import type { ConnectionGuard } from '../net/connection-guard';
import type { Logger } from '../observability/logging';
import type { RestGateway } from './rest-gateway';
import { restTlsOptions, watchRestTls } from './rest-tls';

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
  /**
   * The gRPC port's TLS files: the REST port then speaks HTTPS only, with the same certificate
   * (and client certificates required with a client CA), reloaded like the gRPC port's.
   * Default: plaintext.
   */
  readonly tls?: ServerTlsFiles;
}

/**
 * The REST port: a node:http server running the gateway. Node's `requestTimeout` is off, as
 * client streams (RecordRoute) may upload for as long as a gRPC stream; a request head must
 * arrive within the guard's deadline, and every call's body is bounded per message.
 */
export class RestServer {
  private server: http.Server | undefined;
  private boundPort: number | undefined;
  private stopTlsWatch: (() => void) | undefined;

  constructor(private readonly options: RestServerOptions) {}

  /** The server, built at listen(): TLS files are read then, as the gRPC port's are. */
  private createServer(): http.Server {
    const { options } = this;
    const serverOptions: http.ServerOptions = {
      requestTimeout: 0,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_REST_KEEP_ALIVE_TIMEOUT_MS,
    };
    let server: http.Server;
    if (options.tls === undefined) {
      server = http.createServer(serverOptions, options.gateway.handle);
    } else {
      const secure = https.createServer(
        { ...serverOptions, ...restTlsOptions(options.tls) },
        options.gateway.handle,
      );
      this.stopTlsWatch = watchRestTls(secure, options.tls, options.logger);
      // An https.Server is a node:http server over TLS sockets: the guard's hooks are the same.
      server = secure as unknown as http.Server;
    }
    options.guard.attachHttp1(server);
    server.on('upgrade', options.gateway.handleUpgrade);
    server.on('clientError', (_error, socket) => {
      if (socket.writable && !socket.destroyed) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      }
      socket.destroy();
    });
    return server;
  }

  /** The bound port (useful when the configured port is 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('REST server is not bound');
    return this.boundPort;
  }

  async listen(): Promise<number> {
    const { host, port } = this.options;
    const server = this.createServer();
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.options.logger.error({ err: error }, 'REST server error'));
    this.boundPort = (server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /**
   * Stops accepting connections, closes idle ones, lets calls in progress finish for `graceMs`
   * (new requests on open connections get 503), cancels the rest, then closes every connection.
   */
  async close(graceMs: number): Promise<void> {
    this.stopTlsWatch?.();
    const server = this.server;
    if (server === undefined || !server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await this.options.gateway.drain(graceMs);
    server.closeAllConnections();
    await closed;
  }
}

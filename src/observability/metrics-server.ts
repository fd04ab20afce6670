import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ConnectionGuard } from '../net/connection-guard';
import type { Logger } from './logging';

/** Options for {@link MetricsServer}. */
export interface MetricsServerOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Address to bind. */
  readonly host: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** Guards the port's connections (cap, first request head deadline). Default: none. */
  readonly guard?: ConnectionGuard;
}

/** Connection cap of the metrics port: a few scrapers, each with one keep-alive connection. */
export const METRICS_PORT_MAX_CONNECTIONS = 32;

/** Serves a registry's exposition at `GET /metrics` over plain HTTP; everything else is 404. */
export class MetricsServer {
  private readonly server: Server;
  private boundPort: number | undefined;

  constructor(private readonly options: MetricsServerOptions) {
    const { registry, logger } = options;
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://metrics');
      if (url.pathname !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => {
          logger.error({ err: error }, 'metrics collection failed');
          response.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
        },
      );
    });
    options.guard?.attachHttp1(this.server);
  }

  /** The bound port (useful when the configured port is 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('metrics server is not bound');
    return this.boundPort;
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
    // Once listening, a server error (e.g. accept() failing with EMFILE) must not become an
    // unhandled 'error' event that kills the process: log it, keep serving gRPC.
    this.server.on('error', (error) =>
      this.options.logger.error({ err: error }, 'metrics server error'),
    );
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /** Stops listening and drops idle keep-alive connections (scrapers keep them open). */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

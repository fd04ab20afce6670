import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { onHttp2Session, onTcpConnection } from './http2-sessions';

/** Options for {@link ServerKeepalive}. */
export interface ServerKeepaliveOptions {
  /** Interval between the server's HTTP/2 PINGs on each connection. */
  readonly timeMs: number;
  /** A PING unanswered for this long closes the connection (the peer is gone). */
  readonly timeoutMs: number;
}

/**
 * Server keepalive that never kills a draining connection.
 *
 * grpc-js's own `grpc.keepalive_time_ms` pings every connection and destroys it when a PING
 * cannot be sent. Once a connection has exchanged a GOAWAY (max connection age, either side),
 * Node marks the session closed and refuses to send PINGs, so grpc-js's next keepalive destroys
 * it with every stream still running on it ("Connection dropped"). Here a closed (draining)
 * session is not pinged; TCP keepalive, turned on for every connection, still finds a vanished
 * peer there, while open connections get HTTP/2 PINGs as usual.
 */
export class ServerKeepalive {
  private readonly intervals = new Set<NodeJS.Timeout>();

  constructor(private readonly options: ServerKeepaliveOptions) {}

  attach(server: grpc.Server): void {
    onTcpConnection(server, (socket) => socket.setKeepAlive(true, this.options.timeMs));
    onHttp2Session(server, (session) => this.manage(session));
  }

  /** Stops pinging (shutdown closes the connections itself). */
  stop(): void {
    for (const interval of this.intervals) clearInterval(interval);
    this.intervals.clear();
  }

  private manage(session: http2.ServerHttp2Session): void {
    const { timeMs, timeoutMs } = this.options;
    let awaiting: NodeJS.Timeout | undefined;
    const interval = setInterval(() => {
      if (session.destroyed || session.closed || awaiting !== undefined) return;
      awaiting = setTimeout(() => session.destroy(), timeoutMs);
      awaiting.unref();
      const acknowledged = (): void => {
        clearTimeout(awaiting);
        awaiting = undefined;
      };
      try {
        // An error here means the session closed meanwhile (PING cancelled): not a dead peer.
        if (!session.ping(acknowledged)) acknowledged();
      } catch {
        acknowledged();
      }
    }, timeMs);
    interval.unref();
    this.intervals.add(interval);
    session.once('close', () => {
      clearInterval(interval);
      clearTimeout(awaiting);
      this.intervals.delete(interval);
    });
  }
}

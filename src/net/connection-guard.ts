import type * as http from 'node:http';
import * as http2 from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import { sourceKey } from './source-address';

/** Why a guard closed a connection (the `reason` label of its metric). */
export const CONNECTION_GUARD_REASONS = [
  'handshake_timeout',
  'idle',
  'limit',
  'address_limit',
  'half_closed',
] as const;
export type ConnectionGuardReason = (typeof CONNECTION_GUARD_REASONS)[number];

/** Default of {@link ConnectionGuardOptions.handshakeTimeoutMs}. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Default of {@link ConnectionGuardOptions.idleTimeoutMs} (grpc-go's MaxConnectionIdle is off by default). */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** Default of {@link ConnectionGuardOptions.closeLingerMs}. */
export const DEFAULT_CLOSE_LINGER_MS = 2000;

/** Options for {@link ConnectionGuard}. */
export interface ConnectionGuardOptions {
  /** Names the guarded port in metrics (`grpc`, `health`, `metrics`, ...). Required. */
  readonly port: string;
  /**
   * Open connections per listening socket; new ones beyond are closed at once, before Node
   * allocates anything for them (`net.Server.maxConnections`). Required.
   */
  readonly maxConnections: number;
  /**
   * Open connections from one source address (an IPv4 address, an IPv6 /64: see
   * source-address.ts); more from it are closed at accept, so that one client cannot take the
   * whole `maxConnections` from everyone else. Default: half of `maxConnections`, rounded up.
   */
  readonly maxConnectionsPerAddress?: number | undefined;
  /**
   * Time from accept to a finished handshake: TLS (when the server speaks it) and the HTTP/2
   * preface and SETTINGS exchange (the client's SETTINGS received, ours acknowledged), or for
   * HTTP/1.1 a complete first request head. Never extended by partial progress, so a preface
   * sent byte by byte is cut by the same deadline. Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * An HTTP/2 connection without an open stream for this long gets a GOAWAY and is closed.
   * PINGs do not count as activity; any open stream (a health Watch, an ORCA stream) does.
   * HTTP/1.1 connections are left to the server's `keepAliveTimeout`. Default
   * {@link DEFAULT_IDLE_TIMEOUT_MS}.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Once the server has ended its side of a connection (its HTTP/2 session closed: max age, idle,
   * shutdown), the peer gets this long to close its side before the socket is destroyed. Node 24
   * otherwise waits for the peer's FIN forever, so a peer that never sends one would hold the
   * socket (and delay a graceful shutdown to its grace period). Default
   * {@link DEFAULT_CLOSE_LINGER_MS}.
   */
  readonly closeLingerMs?: number;
}

/** GOAWAY debug data grpc-go sends for max idle. */
const MAX_IDLE_DATA = Buffer.from('max_idle');
/** The largest stream id: a stream the client started as the GOAWAY left still runs. */
const LAST_STREAM_ID = 2 ** 31 - 1;

/**
 * Connection-level protection for one port: a cap on open connections, a handshake deadline and
 * (HTTP/2) an idle timeout. Counts what it closed, by reason, and the connections open, with or
 * without a metrics registry. Attach it to every server listening on the port; the servers'
 * own TLS, HTTP/2 and HTTP/1.1 handling stays as it is.
 */
export class ConnectionGuard {
  readonly port: string;
  /** Handshake deadlines by connection (its address 4-tuple, reachable from TCP, TLS and HTTP/2). */
  private readonly handshakes = new Map<string, NodeJS.Timeout>();
  private readonly closedCounts = new Map<ConnectionGuardReason, number>(
    CONNECTION_GUARD_REASONS.map((reason) => [reason, 0]),
  );
  private openConnections = 0;
  /** Open connections by source (sourceKey); a source without any has no entry. */
  private readonly openBySource = new Map<string, number>();
  private readonly maxConnectionsPerAddress: number;
  private readonly handshakeTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly closeLingerMs: number;

  constructor(private readonly options: ConnectionGuardOptions) {
    this.port = options.port;
    this.maxConnectionsPerAddress =
      options.maxConnectionsPerAddress ?? Math.ceil(options.maxConnections / 2);
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.closeLingerMs = options.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS;
  }

  /** TCP connections currently open on the guarded servers. */
  get open(): number {
    return this.openConnections;
  }

  /** Connections this guard closed for `reason` so far. */
  closed(reason: ConnectionGuardReason): number {
    return this.closedCounts.get(reason) ?? 0;
  }

  /** Guards an HTTP/2 server, plaintext or TLS (grpc-js's, see grpc/http2-sessions.ts). */
  attachHttp2(server: http2.Http2Server | http2.Http2SecureServer): void {
    this.limit(server);
    server.on('session', (session: http2.ServerHttp2Session) => this.watchSession(session));
  }

  /**
   * Guards an HTTP/1.1 server (node:http): the deadline ends with the first request head; later
   * heads on a keep-alive connection get Node's `headersTimeout`, lowered to the same deadline
   * (Node checks it every `connectionsCheckingInterval`, 30 s by default).
   */
  attachHttp1(server: http.Server): void {
    this.limit(server);
    server.headersTimeout = Math.min(server.headersTimeout, this.handshakeTimeoutMs);
    server.on('request', (request: http.IncomingMessage) =>
      this.handshakeDone(connectionKey(request.socket)),
    );
  }

  private limit(server: NetServer): void {
    server.maxConnections = this.options.maxConnections;
    // Node closes the accepted handle itself (no Socket is built) and reports it here.
    server.on('drop', () => this.count('limit'));
    this.gateBySource(server);
  }

  /**
   * Puts the per-address share in front of the server's own 'connection' listeners (Node's
   * HTTP/2, TLS or HTTP/1.1 set-up, registered when the server was built), so that a connection
   * over its source's share is destroyed before any session, TLS or parser state is built for
   * it: thousands of refused connections cost no more memory than dropped ones. An admitted
   * connection then gets the server's set-up first and the guard's deadlines after.
   */
  private gateBySource(server: NetServer): void {
    const own = server.listeners('connection') as ((socket: Socket) => void)[];
    if (own.length === 0) {
      throw new Error('connection guard: the server has no connection listener to gate');
    }
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.admitSource(socket)) return;
      for (const listener of own) listener.call(server, socket);
      this.admit(socket);
    });
  }

  private count(reason: ConnectionGuardReason): void {
    this.closedCounts.set(reason, this.closed(reason) + 1);
  }

  private admit(socket: Socket): void {
    this.openConnections++;
    socket.once('close', () => this.openConnections--);
    socket.once('finish', () => this.lingerAfterEnd(socket));
    const key = connectionKey(socket);
    // Without an address (a Unix socket) nothing could end the deadline: no deadline then.
    if (key === undefined) return;
    const deadline = setTimeout(() => {
      this.handshakes.delete(key);
      if (socket.destroyed) return;
      this.count('handshake_timeout');
      socket.destroy();
    }, this.handshakeTimeoutMs);
    deadline.unref();
    this.handshakes.set(key, deadline);
    socket.once('close', () => this.handshakeDone(key));
  }

  /**
   * Counts the socket under its source address, or closes it when that source already holds
   * `maxConnectionsPerAddress` connections. Sockets without an address are not counted.
   */
  private admitSource(socket: Socket): boolean {
    const source = sourceKey(socket.remoteAddress);
    if (source === undefined) return true;
    const open = this.openBySource.get(source) ?? 0;
    if (open >= this.maxConnectionsPerAddress) {
      this.count('address_limit');
      socket.destroy();
      return false;
    }
    this.openBySource.set(source, open + 1);
    socket.once('close', () => {
      const left = this.openBySource.get(source)! - 1;
      if (left === 0) this.openBySource.delete(source);
      else this.openBySource.set(source, left);
    });
    return true;
  }

  /** Destroys a socket whose peer has not closed its side `closeLingerMs` after ours ended. */
  private lingerAfterEnd(socket: Socket): void {
    const linger = setTimeout(() => {
      if (socket.destroyed) return;
      this.count('half_closed');
      socket.destroy();
    }, this.closeLingerMs);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  }

  private handshakeDone(key: string | undefined): void {
    if (key === undefined) return;
    clearTimeout(this.handshakes.get(key));
    this.handshakes.delete(key);
  }

  private watchSession(session: http2.ServerHttp2Session): void {
    // Plaintext: the session exists before the 'connection' listeners ran, TLS: after the TLS
    // handshake; either way the settings arrive later, once the deadline is registered.
    const key = connectionKey(session.socket);
    let settingsSeen = 0;
    const settled = (): void => {
      if (++settingsSeen === 2) this.handshakeDone(key);
    };
    session.once('remoteSettings', settled);
    session.once('localSettings', settled);
    this.watchIdle(session);
  }

  /** Closes the session once it has had no open stream for `idleTimeoutMs`. */
  private watchIdle(session: http2.ServerHttp2Session): void {
    const idleTimeoutMs = this.idleTimeoutMs;
    let open = 0;
    let idleSince = Date.now();
    // A stream emits 'close' once: one listener per session serves all its streams, instead
    // of a closure and a once-wrapper per call.
    const closed = (): void => {
      if (--open === 0) idleSince = Date.now();
    };
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      open++;
      stream.on('close', closed);
    });
    // One timer per connection, re-armed when it fires rather than on every stream.
    const check = (): void => {
      if (session.closed || session.destroyed) return;
      const remaining = open === 0 ? idleSince + idleTimeoutMs - Date.now() : idleTimeoutMs;
      if (remaining > 0) {
        timer = setTimeout(check, remaining).unref();
        return;
      }
      this.count('idle');
      this.closeIdle(session);
    };
    let timer = setTimeout(check, idleTimeoutMs).unref();
    session.once('close', () => clearTimeout(timer));
  }

  private closeIdle(session: http2.ServerHttp2Session): void {
    try {
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, LAST_STREAM_ID, MAX_IDLE_DATA);
      // A second GOAWAY with the real last stream id, then closed once no stream is left.
      session.close();
    } catch {
      session.destroy();
    }
  }
}

/** The connection's address 4-tuple: unique among the open connections of a listening port. */
function connectionKey(socket: Socket): string | undefined {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (remoteAddress === undefined || remotePort === undefined) return undefined;
  return `${localAddress}:${localPort}-${remoteAddress}:${remotePort}`;
}

import type * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { ConnectionGuard } from '../net/connection-guard';

/**
 * Calls `listener` for every HTTP/2 session (connection) a bound grpc-js server accepts from now on.
 * grpc-js does not expose its sessions, so this reads the server's (private) map of HTTP/2
 * servers; versions are pinned and test/integration/long-lived-streams.test.ts fails if that
 * map ever moves.
 */
export function onHttp2Session(
  server: grpc.Server,
  listener: (session: http2.ServerHttp2Session) => void,
): void {
  for (const http2Server of http2ServersOf(server)) http2Server.on('session', listener);
}

/** Calls `listener` with the TCP socket of every connection the bound server accepts. */
export function onTcpConnection(server: grpc.Server, listener: (socket: Socket) => void): void {
  // 'connection' is net.Server's event: the raw TCP socket, also under TLS.
  for (const http2Server of http2ServersOf(server)) http2Server.on('connection', listener);
}

/** Puts every HTTP/2 server of a bound grpc-js server (one per bound address) under `guard`. */
export function guardConnections(server: grpc.Server, guard: ConnectionGuard): void {
  for (const http2Server of http2ServersOf(server)) guard.attachHttp2(http2Server);
}

function http2ServersOf(server: grpc.Server): http2.Http2Server[] {
  const internals = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(internals instanceof Map) || internals.size === 0) {
    throw new Error('no bound HTTP/2 server found in this grpc-js server (bind it first)');
  }
  return [...(internals.keys() as Iterable<http2.Http2Server>)];
}

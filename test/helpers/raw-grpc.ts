import http2 from 'node:http2';
import net from 'node:net';

/** What a raw gRPC exchange ended with. */
export interface RawOutcome {
  /** HTTP status of the response headers. */
  httpStatus: number | undefined;
  /** grpc-status from trailers (or a trailers-only response), if any. */
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  /** Response body bytes received (length-prefixed messages). */
  bodyBytes: number;
  /** Set when the stream failed below gRPC (RST_STREAM, session error). */
  streamError: string | undefined;
}

/** Frames a payload as one gRPC length-prefixed message (uncompressed). */
export function frame(payload: Uint8Array, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

/** A point as the protos have it (E7 integers). */
export interface RawPoint {
  latitude: number;
  longitude: number;
}

/** Protobuf varint of an int32 field value (negative values take ten bytes, as on the wire). */
export function varint(value: number): number[] {
  const out: number[] = [];
  if (value >= 0) {
    let v = value;
    while (v > 127) {
      out.push((v & 127) | 128);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return out;
  }
  let v = BigInt.asUintN(64, BigInt(value));
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A `routeguide.Point` message's bytes. */
export function encodePoint(point: RawPoint): number[] {
  return [0x08, ...varint(point.latitude), 0x10, ...varint(point.longitude)];
}

/** A ListFeatures request body: one length-prefixed `Rectangle` message. */
export function listFeaturesRequest(lo: RawPoint, hi: RawPoint): Buffer {
  const loBytes = encodePoint(lo);
  const hiBytes = encodePoint(hi);
  return frame(Buffer.from([0x0a, loBytes.length, ...loBytes, 0x12, hiBytes.length, ...hiBytes]));
}

/**
 * Sends raw bytes as a gRPC request body over an existing HTTP/2 session, with no protobuf
 * encoding, and reports how the server answered. Bounded by `timeoutMs`.
 */
export function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  body: Buffer,
  options: { contentType?: string; timeoutMs?: number; extraHeaders?: Record<string, string> } = {},
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const outcome: RawOutcome = {
      httpStatus: undefined,
      grpcStatus: undefined,
      grpcMessage: undefined,
      bodyBytes: 0,
      streamError: undefined,
    };
    const readGrpc = (headers: http2.IncomingHttpHeaders) => {
      if (headers['grpc-status'] !== undefined) outcome.grpcStatus = Number(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined)
        outcome.grpcMessage = decodeURIComponent(String(headers['grpc-message']));
    };
    const request = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': options.contentType ?? 'application/grpc',
      te: 'trailers',
      ...options.extraHeaders,
    });
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      outcome.streamError = 'timeout';
      request.close(http2.constants.NGHTTP2_CANCEL);
      finish();
    }, options.timeoutMs ?? 5000);
    request.on('response', (headers) => {
      outcome.httpStatus = Number(headers[':status']);
      readGrpc(headers);
    });
    request.on('trailers', readGrpc);
    request.on('data', (chunk: Buffer) => (outcome.bodyBytes += chunk.length));
    request.on('error', (error: Error) => {
      outcome.streamError = error.message;
      finish();
    });
    request.on('close', finish);
    request.end(body);
  });
}

/** Opens an HTTP/2 session to a loopback gRPC server. */
export function connect(address: string, localAddress?: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const [host, port] = [
      address.slice(0, address.lastIndexOf(':')),
      address.slice(address.lastIndexOf(':') + 1),
    ];
    const session = http2.connect(
      `http://${address}`,
      localAddress
        ? { createConnection: () => net.connect({ host, port: Number(port), localAddress }) }
        : {},
    );
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/**
 * Like `connect`, but also returns the TCP socket under the session, so a test can destroy it
 * abruptly (a client that vanishes without closing its streams).
 */
export async function connectWithSocket(
  address: string,
): Promise<{ session: http2.ClientHttp2Session; socket: net.Socket }> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  const socket = net.connect({ host, port });
  const session = http2.connect(`http://${address}`, { createConnection: () => socket });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => {
    /* expected when the socket is destroyed */
  });
  return { session, socket };
}

/**
 * Opens one raw gRPC call and sends `body`, then half-closes unless told not to. Unlike grpc-js,
 * a raw client never cancels on its own: a `grpc-timeout` header is then enforced by the server
 * alone. `status` resolves with the grpc-status the server sent (undefined if the stream was reset).
 */
export function openRawStream(
  session: http2.ClientHttp2Session,
  path: string,
  body: Buffer,
  options: { headers?: Record<string, string>; halfClose?: boolean } = {},
): { stream: http2.ClientHttp2Stream; status: Promise<number | undefined> } {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...options.headers,
  });
  // Settles on the server's grpc-status (a half-open stream never closes) or on close.
  const status = new Promise<number | undefined>((resolve) => {
    const read = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) resolve(Number(h['grpc-status']));
    };
    stream.on('response', read);
    stream.on('trailers', read);
    stream.on('close', () => resolve(undefined));
  });
  stream.on('error', () => undefined);
  if (options.halfClose === false) stream.write(body);
  else stream.end(body);
  return { stream, status };
}

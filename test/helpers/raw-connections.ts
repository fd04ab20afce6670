import net from 'node:net';

/** The HTTP/2 client connection preface. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One HTTP/2 frame: 9-byte header, then the payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload = Buffer.alloc(0)) {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

const SETTINGS = 0x4;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const ACK = 0x1;
const END_HEADERS = 0x4;

/** The client's side of the handshake: preface, empty SETTINGS, and the ACK of the server's. */
export const H2_HANDSHAKE = Buffer.concat([
  H2_PREFACE,
  h2Frame(SETTINGS, 0, 0),
  h2Frame(SETTINGS, ACK, 0),
]);

/** An HPACK string literal (no Huffman), length < 127. */
function literal(text: string): Buffer {
  return Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]);
}

/**
 * A HEADERS frame opening a gRPC call on `streamId`, immediately followed by RST_STREAM
 * (CANCEL): one round of an HTTP/2 rapid reset attack (CVE-2023-44487).
 */
export function rapidResetPair(streamId: number, path: string): Buffer {
  const block = Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table)
    Buffer.from([0x04]), // :path, literal value, name from the static table
    literal(path),
    Buffer.from([0x01]), // :authority
    literal('localhost'),
    Buffer.from([0x0f, 0x10]), // content-type (static index 31)
    literal('application/grpc'),
    Buffer.from([0x00]), // te: a literal name
    literal('te'),
    literal('trailers'),
  ]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(0x8, 0);
  return Buffer.concat([
    h2Frame(HEADERS, END_HEADERS, streamId, block),
    h2Frame(RST_STREAM, 0, streamId, cancel),
  ]);
}

/** A connected raw TCP socket to 127.0.0.1:`port` that records when it closed. */
export interface RawSocket {
  readonly socket: net.Socket;
  /** Resolves with ms from connect to close. */
  readonly closed: Promise<number>;
  /** Whether the socket has closed yet. */
  isClosed(): boolean;
}

export function rawConnect(port: number, localAddress?: string): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      ...(localAddress ? { localAddress } : {}),
    });
    let done = false;
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const start = Date.now();
      const closed = new Promise<number>((resolveClose) =>
        socket.once('close', () => {
          done = true;
          resolveClose(Date.now() - start);
        }),
      );
      resolve({ socket, closed, isClosed: () => done });
    });
    socket.once('error', reject);
  });
}

/** Resolves with `promise`'s value, or `undefined` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

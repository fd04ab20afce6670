/**
 * A minimal gRPC client on Node's http2 module, for the benchmark's load only: requests are
 * framed once and reused, responses are only counted (messages framed, grpc-status checked),
 * never decoded. It costs a fraction of grpc-js's client per call, so the few load processes
 * on one CPU can keep the server's CPU busy (as ghz does): the server's CPU per call is then
 * measured with the server as the bottleneck, not the client. With grpc-js's client driving
 * the load, the server idles between reads and its per-call CPU mixes in per-wakeup costs that
 * depend on timing, which made repeated runs of one build differ by ±10%.
 */
import * as http2 from 'node:http2';

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_TE,
  HTTP2_HEADER_USER_AGENT,
} = http2.constants;

/** A message framed for gRPC: 1 flag byte (uncompressed), 4 bytes of length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** A failed call: its grpc-status (or -1 for a transport error) and message. */
export class H2CallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'H2CallError';
  }
}

/** Counts the gRPC messages in a response body that arrives in arbitrary chunks. */
class MessageCounter {
  count = 0;
  /** Bytes still to skip in the current message (or its prefix, when `header` is short). */
  private remaining = 0;
  private readonly header = Buffer.alloc(5);
  private headerBytes = 0;

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - at);
        this.remaining -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(5 - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + take);
      this.headerBytes += take;
      at += take;
      if (this.headerBytes === 5) {
        this.headerBytes = 0;
        this.count++;
        this.remaining = this.header.readUInt32BE(1);
      }
    }
  }

  get complete(): boolean {
    return this.remaining === 0 && this.headerBytes === 0;
  }
}

/** One HTTP/2 connection to a gRPC server, as a grpc-js channel would hold. */
export class H2GrpcClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(address: string) {
    this.session = http2.connect(`http://${address}`);
    this.session.on('error', () => {
      /* each call reports its own failure */
    });
  }

  /** Resolves once the connection is up (rejects after `timeoutMs`). */
  ready(timeoutMs: number): Promise<void> {
    if (this.session.connecting === false && !this.session.destroyed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
      this.session.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.session.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /**
   * One call to `path` with a request framed by {@link grpcFrame}; resolves with the number of
   * response messages when the status is OK, rejects with {@link H2CallError} otherwise.
   * The headers are those grpc-js's client sends, so the server parses as much as usual.
   */
  call(path: string, frame: Buffer, timeoutMs: number, authorization?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        [HTTP2_HEADER_METHOD]: 'POST',
        [HTTP2_HEADER_PATH]: path,
        [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [HTTP2_HEADER_TE]: 'trailers',
        [HTTP2_HEADER_USER_AGENT]: 'routeguide-bench h2',
        'grpc-accept-encoding': 'identity,deflate,gzip',
        'accept-encoding': 'identity',
        'grpc-timeout': `${timeoutMs}m`,
        ...(authorization === undefined ? {} : { authorization }),
      });
      const counter = new MessageCounter();
      let status: string | undefined;
      let details = '';
      const onHeaders = (headers: http2.IncomingHttpHeaders): void => {
        const code = headers['grpc-status'];
        if (typeof code === 'string') {
          status = code;
          details = String(headers['grpc-message'] ?? '');
        }
      };
      stream.on('response', onHeaders);
      stream.on('trailers', onHeaders);
      stream.on('data', (chunk: Buffer) => counter.push(chunk));
      stream.on('error', (error) => reject(new H2CallError(-1, error.message)));
      stream.on('close', () => {
        if (status === '0' && counter.complete) resolve(counter.count);
        else if (status === undefined) reject(new H2CallError(-1, 'stream closed without status'));
        else reject(new H2CallError(Number(status), decodeURIComponent(details)));
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

import { Duplex } from 'node:stream';
import { Metadata, status as Status, type ServerUnaryCall, type StatusObject } from '@grpc/grpc-js';

/** What grpc-js's server calls report of their transport (`getAuthContext()`). */
export type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>['getAuthContext']>;

/** Where a local call's responses go: the HTTP side of the gateway. */
export interface LocalCallResponder {
  /** The handler's response headers (`sendMetadata`), before its first message. */
  onMetadata(metadata: Metadata): void;
  /**
   * One response message (an object, or pre-encoded protobuf bytes). `done` is called once the
   * HTTP side has taken it: until then the call's write buffer fills and `write()` returns
   * false, so the handler sees the HTTP reader's backpressure.
   */
  onMessage(message: unknown, done: () => void): void;
  /** The call's end: OK after its last message, or the status the handler failed with. */
  onStatus(status: StatusObject): void;
}

/** What the HTTP request gives a local call. */
export interface LocalCallOptions {
  readonly path: string;
  /** The request message (unary and server-streaming calls). */
  readonly request: unknown;
  readonly metadata: Metadata;
  /** Epoch ms, or Infinity. */
  readonly deadline: number;
  /** `address:port` of the HTTP client. */
  readonly peer: string;
  /** `address:port` the HTTP request arrived on. */
  readonly host: string;
  readonly responder: LocalCallResponder;
  /**
   * The TLS peer of the HTTP connection (its client certificate under mutual TLS), as grpc-js's
   * `getAuthContext()` reports it. Default: `{}` (plaintext).
   */
  readonly authContext?: AuthContext;
  /** Called when the handler reads more request messages after a full read buffer. */
  readonly onReadMore?: () => void;
}

/** grpc-js's limit of buffered messages per direction (its streams' highWaterMark). */
const MESSAGES_BUFFERED = 16;

/**
 * An in-process call: what grpc-js hands a server handler (ServerUnaryCall, ServerReadableStream,
 * ServerWritableStream, ServerDuplexStream), fed by an HTTP request instead of an HTTP/2 stream,
 * so the REST gateway runs the very handlers the gRPC server registered. An object-mode Duplex
 * like grpc-js's calls: request messages are `push`ed by the gateway (`data` events, `pause()`,
 * a read-ahead bound the handler may lower), responses are `write()`n with backpressure and
 * `end()`ed, failures `emit('error', status)`ed; `cancelled` and the 'cancelled' event as grpc-js.
 * Exactly one status reaches the responder.
 */
export class LocalCall extends Duplex {
  readonly request: unknown;
  readonly metadata: Metadata;
  cancelled = false;
  private statusSent = false;
  private metadataSent = false;

  constructor(private readonly options: LocalCallOptions) {
    super({
      objectMode: true,
      readableHighWaterMark: MESSAGES_BUFFERED,
      writableHighWaterMark: MESSAGES_BUFFERED,
      // The handler's end() must not end the readable side, nor the reverse (as grpc-js).
      allowHalfOpen: true,
      autoDestroy: false,
      emitClose: true,
    });
    this.request = options.request;
    this.metadata = options.metadata;
    // grpc-js: a handler fails a streaming call with call.emit('error', status).
    this.on('error', (error: Partial<StatusObject> & { message?: string }) =>
      this.sendStatus(statusOf(error)),
    );
  }

  getPeer(): string {
    return this.options.peer;
  }

  getHost(): string {
    return this.options.host;
  }

  getPath(): string {
    return this.options.path;
  }

  getDeadline(): Date | number {
    return this.options.deadline;
  }

  getAuthContext(): AuthContext {
    return this.options.authContext ?? {};
  }

  sendMetadata(metadata: Metadata): void {
    if (this.metadataSent || this.statusSent) return;
    this.metadataSent = true;
    this.options.responder.onMetadata(metadata);
  }

  /** The unary and client-streaming handlers' callback. */
  readonly callback = (error: unknown, value?: unknown, trailer?: Metadata): void => {
    if (error !== null && error !== undefined) {
      this.sendStatus(statusOf(error as Partial<StatusObject>));
      return;
    }
    if (this.statusSent || this.cancelled) return;
    this.options.responder.onMessage(value, () => undefined);
    this.sendStatus({ code: Status.OK, details: 'OK', metadata: trailer ?? new Metadata() });
  };

  /** Whether the call has ended (status sent or cancelled). */
  get ended(): boolean {
    return this.statusSent || this.cancelled;
  }

  /**
   * Cancels the call (the HTTP client went away, the deadline passed, shutdown's grace is over):
   * the handler sees `cancelled` and the 'cancelled' event, as with grpc-js.
   */
  cancel(): void {
    if (this.ended) return;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
    this.destroy();
  }

  /** The gateway: one request message from the HTTP body; false once the read buffer is full. */
  pushMessage(message: unknown): boolean {
    if (this.ended) return false;
    return this.push(message);
  }

  /** The gateway: the HTTP body has ended. */
  endRequest(): void {
    if (!this.ended) this.push(null);
  }

  override _read(): void {
    this.options.onReadMore?.();
  }

  override _write(
    message: unknown,
    _encoding: BufferEncoding,
    done: (error?: Error) => void,
  ): void {
    if (this.ended) {
      done();
      return;
    }
    this.options.responder.onMessage(message, () => done());
  }

  override _final(done: (error?: Error) => void): void {
    this.sendStatus({ code: Status.OK, details: 'OK', metadata: new Metadata() });
    done();
  }

  private sendStatus(status: StatusObject): void {
    if (this.ended) return;
    this.statusSent = true;
    this.options.responder.onStatus(status);
  }
}

/** A handler's error (a status object, a ServiceError, anything) as a full status. */
function statusOf(error: Partial<StatusObject> & { message?: string }): StatusObject {
  const code = typeof error.code === 'number' ? error.code : Status.UNKNOWN;
  return {
    code,
    details: error.details ?? error.message ?? 'unknown error',
    metadata: error.metadata instanceof Metadata ? error.metadata : new Metadata(),
  };
}

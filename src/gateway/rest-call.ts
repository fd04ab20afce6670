import type * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { AdmittedHttp2Stream, AdmittedStream } from '../grpc/admission';
import type { CallCounters, MethodCounters } from '../observability/call-counters';
import { httpStatusOf, statusJson } from './http-status';
import type { LocalCall, LocalCallResponder } from './local-call';
import { metadataHeaders } from './request-metadata';
import { StreamWriter, type StreamFormat } from './stream-writer';

/** Turns one response message (object or pre-encoded bytes) into its JSON text. */
export type ResponseEncoder = (message: unknown) => string;

/** What every REST call of a gateway shares. */
export interface RestCallShared {
  readonly counters: CallCounters;
  /** Response headers every call sends (the replica header, CORS). */
  readonly headers: (request: http.IncomingMessage) => Record<string, string | string[]>;
  /** Retry-After seconds of a refused or shed call. */
  readonly retryAfterSeconds: string;
}

/**
 * One REST call on its way through the policy and the handler: the local call's responder
 * (HTTP status, headers, body or stream), counted in the gRPC series of its method exactly once,
 * and for streaming calls the stream admission control tracks (its connection is the HTTP
 * connection; shedding destroys it).
 */
export class RestCall implements LocalCallResponder, AdmittedStream {
  private readonly startedAt = performance.now();
  private finished = false;
  private readonly headers: Record<string, string | string[]>;
  private writer: StreamWriter | undefined;
  private unaryBody: string | undefined;
  call: LocalCall | undefined;
  /** Called once the call has ended (status sent, cancelled or shed), with its status code. */
  onEnded: ((code: number) => void) | undefined;

  // AdmittedStream
  sentMessages = 0;
  connection: AdmittedStream['connection'] = undefined;
  progressMark = 0;
  stalledSince = 0;
  readonly http2Stream: AdmittedHttp2Stream;

  constructor(
    readonly request: http.IncomingMessage,
    readonly response: http.ServerResponse,
    readonly method: MethodCounters,
    private readonly shared: RestCallShared,
    /** How messages are framed: undefined for a unary response (one JSON body). */
    private readonly format: StreamFormat | undefined,
    private readonly encode: ResponseEncoder,
  ) {
    method.started++;
    this.headers = shared.headers(request);
    const socket = request.socket;
    const writer = (): StreamWriter | undefined => this.writer;
    this.http2Stream = {
      // The HTTP connection plays the HTTP/2 session: the per-connection limit counts its calls.
      session: socket as unknown as AdmittedHttp2Stream['session'],
      get bufferSize() {
        return writer()?.bufferedBytes ?? 0;
      },
      get destroyed() {
        return response.destroyed;
      },
      close: () => response.destroy(),
    };
  }

  /** Bytes written by the handler and not yet taken by the socket. */
  get pendingBytes(): number {
    return this.writer?.bufferedBytes ?? 0;
  }

  get ended(): boolean {
    return this.finished;
  }

  onMetadata(metadata: Metadata): void {
    metadataHeaders(metadata, this.headers);
  }

  onMessage(message: unknown, done: () => void): void {
    if (this.finished) return done();
    this.method.sent++;
    this.sentMessages++;
    let json: string;
    try {
      json = this.encode(message);
    } catch {
      done();
      this.call?.emit('error', { code: Status.INTERNAL, details: 'response encoding failed' });
      return;
    }
    if (this.format === undefined) {
      this.unaryBody = json;
      done();
      return;
    }
    this.startStream().write(this.format.result(json), done);
  }

  onStatus(status: StatusObject): void {
    if (this.finished) return;
    metadataHeaders(status.metadata, this.headers);
    if (status.code === Status.OK) {
      this.count(Status.OK);
      if (this.format === undefined) {
        this.send(200, 'application/json', this.unaryBody ?? '{}');
      } else {
        this.startStream().end(this.format.end);
      }
      return;
    }
    this.fail(status.code, status.details);
  }

  /**
   * Ends the call with an error: a JSON Status body with the mapped HTTP status when nothing was
   * sent yet, else the stream's error frame.
   */
  fail(
    code: number,
    message: string,
    extraHeaders: Record<string, string> = {},
    httpStatus: number = httpStatusOf(code),
  ): void {
    if (this.finished) return;
    this.count(code);
    const body = statusJson(code, message);
    if (this.writer !== undefined) {
      this.closeIfUnread();
      this.writer.end(this.format!.error(body));
      return;
    }
    Object.assign(this.headers, extraHeaders);
    if (code === Status.UNAVAILABLE || code === Status.RESOURCE_EXHAUSTED) {
      this.headers['retry-after'] ??= this.shared.retryAfterSeconds;
    }
    // RFC 9110: a 401 carries a challenge, also when the status came from a handler or a remote.
    if (code === Status.UNAUTHENTICATED) this.headers['www-authenticate'] ??= 'Bearer';
    this.send(httpStatus, 'application/json', JSON.stringify(body));
  }

  /** The HTTP client went away, or the deadline passed: the handler sees a cancelled call. */
  cancel(code: Status.CANCELLED | Status.DEADLINE_EXCEEDED): void {
    if (this.finished) return;
    if (code === Status.DEADLINE_EXCEEDED && !this.response.destroyed) {
      this.fail(code, 'deadline exceeded');
    } else {
      this.count(code);
      this.writer?.clear();
    }
    this.call?.cancel();
  }

  /** Admission control sheds this stream (memory): counted RESOURCE_EXHAUSTED, connection reset. */
  shed(): void {
    if (this.finished) return;
    this.count(Status.RESOURCE_EXHAUSTED);
    this.writer?.clear();
    this.call?.cancel();
    this.response.destroy();
  }

  /**
   * A call that ends before its request body did (a refused or failed client stream) closes the
   * connection after its response, as gRPC resets such a stream: the rest of the body is not
   * read, however long it is.
   */
  private closeIfUnread(): void {
    if (this.request.complete) return;
    this.response.shouldKeepAlive = false;
    if (!this.response.headersSent) this.headers['connection'] = 'close';
  }

  private startStream(): StreamWriter {
    if (this.writer === undefined) {
      this.response.writeHead(200, {
        ...this.headers,
        'content-type': this.format!.contentType,
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      this.writer = new StreamWriter(this.response);
    }
    return this.writer;
  }

  private send(status: number, contentType: string, body: string): void {
    if (this.response.headersSent || this.response.destroyed) return;
    this.closeIfUnread();
    this.response.writeHead(status, {
      ...this.headers,
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
    });
    this.response.end(this.request.method === 'HEAD' ? undefined : body);
  }

  private count(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.shared.counters.handled(this.method, code, performance.now() - this.startedAt);
    this.onEnded?.(code);
  }
}

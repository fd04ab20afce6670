import type * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { WebSocket } from 'ws';
import type { AdmittedHttp2Stream, AdmittedStream } from '../grpc/admission';
import type { CallCounters, MethodCounters } from '../observability/call-counters';
import { statusJson } from './http-status';
import type { LocalCall, LocalCallResponder } from './local-call';
import type { ResponseEncoder } from './rest-call';

/** Close code of a call that ended OK. */
export const WEBSOCKET_CLOSE_OK = 1000;
/** Close codes of failed calls: this plus the gRPC status code (4003 INVALID_ARGUMENT, …). */
export const WEBSOCKET_CLOSE_STATUS_BASE = 4000;
/** A close frame's reason is at most 123 bytes. */
const MAX_REASON_BYTES = 123;

/** The WebSocket close code of a gRPC status code. */
export function websocketCloseCode(code: number): number {
  return code === Status.OK ? WEBSOCKET_CLOSE_OK : WEBSOCKET_CLOSE_STATUS_BASE + code;
}

/**
 * One full-duplex streaming call over a WebSocket: each response message goes out as one text
 * message (its JSON), the final status as a last message `{"status":{code,message,details}}` and
 * in the close frame (1000 for OK, 4000 + the gRPC code otherwise, the message as reason).
 * Counted in its method's gRPC series exactly once; admission control tracks it like an HTTP/2
 * stream (its connection is the upgraded socket; shedding terminates it).
 */
export class WebSocketCall implements LocalCallResponder, AdmittedStream {
  private readonly startedAt = performance.now();
  private finished = false;
  call: LocalCall | undefined;
  /** Called once the call has ended, with its status code. */
  onEnded: ((code: number) => void) | undefined;

  sentMessages = 0;
  connection: AdmittedStream['connection'] = undefined;
  progressMark = 0;
  stalledSince = 0;
  readonly http2Stream: AdmittedHttp2Stream;

  constructor(
    private readonly socket: WebSocket,
    request: http.IncomingMessage,
    readonly method: MethodCounters,
    private readonly counters: CallCounters,
    private readonly encode: ResponseEncoder,
  ) {
    method.started++;
    this.http2Stream = {
      session: request.socket as unknown as AdmittedHttp2Stream['session'],
      get bufferSize() {
        return socket.bufferedAmount;
      },
      get destroyed() {
        return socket.readyState !== socket.OPEN;
      },
      close: () => socket.terminate(),
    };
  }

  get pendingBytes(): number {
    return this.socket.bufferedAmount;
  }

  get ended(): boolean {
    return this.finished;
  }

  onMetadata(): void {
    // Headers went out with the upgrade; response metadata has no place on a WebSocket.
  }

  onMessage(message: unknown, done: () => void): void {
    if (this.finished || this.socket.readyState !== this.socket.OPEN) return done();
    this.method.sent++;
    this.sentMessages++;
    // The callback runs once the frame is handed to the socket: the handler's write buffer
    // fills while the peer does not read.
    this.socket.send(this.encode(message), () => done());
  }

  onStatus(status: StatusObject): void {
    this.fail(status.code, status.details);
  }

  /** Ends the call with `code` (OK included): the status message, then the close frame. */
  fail(code: number, message: string): void {
    if (this.finished) return;
    this.count(code);
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify({ status: statusJson(code, message) }));
    this.socket.close(websocketCloseCode(code), truncate(message));
  }

  /** The peer went away, or the deadline passed, or shutdown's grace is over. */
  cancel(code: Status.CANCELLED | Status.DEADLINE_EXCEEDED): void {
    if (this.finished) return;
    this.fail(code, code === Status.DEADLINE_EXCEEDED ? 'deadline exceeded' : 'cancelled');
    this.call?.cancel();
  }

  shed(): void {
    if (this.finished) return;
    this.count(Status.RESOURCE_EXHAUSTED);
    this.call?.cancel();
    this.socket.terminate();
  }

  private count(code: number): void {
    this.finished = true;
    this.counters.handled(this.method, code, performance.now() - this.startedAt);
    this.onEnded?.(code);
  }
}

function truncate(reason: string): string {
  const bytes = Buffer.from(reason);
  if (bytes.length <= MAX_REASON_BYTES) return reason;
  // Cut on a character boundary: decoding drops a partial last character.
  return bytes
    .subarray(0, MAX_REASON_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

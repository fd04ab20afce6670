import * as http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import {
  SHED_RST_CODE,
  type AdmissionControl,
  type AdmittedHttp2Stream,
  type AdmittedStream,
} from './admission';
import { assertCallStreamReachable, http2StreamOf } from './call-stream';
import { DEFAULT_WRITE_BEHIND_BYTES, sendWriteBehind, type WriteBehindState } from './write-behind';
import { assertIntegerOptions } from '../util/integer-options';
import {
  splitMethodPath,
  type CallCounters,
  type MethodCounters,
} from '../observability/call-counters';
import { REPLICA_HEADER } from '../protocol/replica';

/** grpc-js's server listener and status types (not exported by name from its index). */
type InterceptingServerListener = Parameters<ServerInterceptingCallInterface['start']>[0];
type PartialStatusObject = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/** How early grpc-js's deadline timer may fire relative to Date.now(). */
const DEADLINE_TIMER_SLACK_MS = 5;

/** Options for {@link callObserverInterceptor}. */
export interface CallObserverOptions {
  /** Where calls are counted. */
  readonly counters: CallCounters;
  /** Sent in the `x-routeguide-replica` response header of every call. No default. */
  readonly replicaId: string;
  /**
   * Bytes of encoded messages a call may have in flight, confirmed before their write completes
   * (see write-behind.ts). Default: 64 KiB ({@link DEFAULT_WRITE_BEHIND_BYTES}); 0 turns it off.
   */
  readonly writeBehindBytes?: number;
  /**
   * Admission control of streaming calls: counted, refused before their handler runs, shed
   * under memory pressure (see admission.ts). Default: none, every call admitted.
   */
  readonly admission?: AdmissionControl;
}

/** What every call of one interceptor shares, made once. */
interface Shared {
  readonly counters: CallCounters;
  readonly replicaId: string;
  /**
   * The response header of calls that send no metadata of their own (most: grpc-js's handlers
   * send a message without metadata), the replica header alone. Made once, because setting a
   * key validates it (a regular expression) on every call; grpc-js only reads it.
   */
  readonly header: Metadata;
  readonly writeBehindBytes: number;
}

/**
 * One call seen by the observer: it is both the intercepting call grpc-js talks to (handler
 * side) and the listener the next call reports to (transport side), so a call costs one object
 * and no closures. Every method does its bookkeeping and forwards at once (no asynchrony).
 */
class ObservedCall
  extends ServerInterceptingCall
  implements InterceptingServerListener, WriteBehindState
{
  private listener: InterceptingServerListener | undefined;
  pendingBytes = 0;
  /** performance.now() when the call's headers arrived; NaN until then. */
  protected startedAt = NaN;
  private finished = false;
  private headerSent = false;

  constructor(
    protected readonly inner: ServerInterceptingCallInterface,
    protected readonly method: MethodCounters,
    private readonly shared: Shared,
  ) {
    super(inner);
  }

  // --- handler → transport ---

  override start(listener: InterceptingServerListener): void {
    this.listener = listener;
    this.inner.start(this);
  }

  override sendMetadata(metadata: Metadata): void {
    this.headerSent = true;
    metadata.set(REPLICA_HEADER, this.shared.replicaId);
    this.inner.sendMetadata(metadata);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (!this.headerSent) {
      this.headerSent = true;
      this.inner.sendMetadata(this.shared.header);
    }
    this.method.sent++;
    sendWriteBehind(this, this.inner, message, callback, this.windowBytes());
  }

  /** The write-behind window of this call's next message. */
  protected windowBytes(): number {
    return this.shared.writeBehindBytes;
  }

  override sendStatus(status: PartialStatusObject): void {
    this.finish(status.code);
    if (this.headerSent) {
      this.inner.sendStatus(status);
      return;
    }
    // No header went out (errors): the replica goes in the trailers. Statuses made by
    // interceptors (e.g. UNAUTHENTICATED) may carry no metadata at all.
    const metadata = status.metadata ?? new Metadata();
    metadata.set(REPLICA_HEADER, this.shared.replicaId);
    this.inner.sendStatus({ ...status, metadata });
  }

  // --- transport → handler ---

  onReceiveMetadata(metadata: Metadata): void {
    this.method.started++;
    this.startedAt = performance.now();
    this.listener!.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    this.method.received++;
    this.listener!.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    this.listener!.onReceiveHalfClose();
  }

  onCancel(): void {
    // grpc-js also calls onCancel after a status was sent; `finish` ignores that. Its deadline
    // timer (libuv's millisecond loop clock) can fire a millisecond or so before Date.now()
    // reaches the deadline it computed, hence the slack.
    if (!this.finished) {
      const deadline = this.inner.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      const expired = deadlineMs <= Date.now() + DEADLINE_TIMER_SLACK_MS;
      this.finish(expired ? Status.DEADLINE_EXCEEDED : Status.CANCELLED);
    }
    this.listener!.onCancel();
  }

  /** Counts the call as handled exactly once, if it was counted as started. */
  protected finish(code: number): void {
    if (this.finished || Number.isNaN(this.startedAt)) return;
    this.finished = true;
    this.shared.counters.handled(this.method, code, performance.now() - this.startedAt);
  }
}

/**
 * Resets a refused call's stream once its response has gone out. The client may still be sending
 * its request (a RouteChat's notes, a RecordRoute's points), and grpc-js reads and discards the
 * rest of a finished call's stream; a RST_STREAM after the complete response tells the client to
 * stop (RFC 9113 §8.1). The reset is sent a turn later, once the session has written the status
 * (a reset submitted at once can overtake it), and with CANCEL: with NO_ERROR, Node 22 waits for
 * a 'finish' that a trailers-only response never emits, and sends nothing.
 */
function stopReading(stream: AdmittedHttp2Stream): void {
  const reset = (): void => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  };
  setImmediate(reset);
}

/**
 * A streaming call under admission control: admitted (or refused, before its handler runs) when
 * grpc-js starts it, released when its stream ends, and shed by admission control when memory
 * runs out. Unary and exempt calls are plain {@link ObservedCall}s and pay for none of this.
 */
class AdmittedCall extends ObservedCall implements AdmittedStream {
  sentMessages = 0;
  connection: AdmittedStream['connection'] = undefined;
  progressMark = 0;
  stalledSince = 0;

  constructor(
    inner: ServerInterceptingCallInterface,
    method: MethodCounters,
    shared: Shared,
    readonly http2Stream: AdmittedHttp2Stream,
    private readonly admission: AdmissionControl,
  ) {
    super(inner, method, shared);
  }

  override start(listener: InterceptingServerListener): void {
    const refused = this.admission.admit(this);
    if (refused === undefined) {
      super.start(listener);
      return;
    }
    // Counted as started and handled like any call; the handler never runs (the transport
    // side is never started, so grpc-js reports nothing more to it).
    this.method.started++;
    this.startedAt = performance.now();
    this.sendStatus(this.admission.status(refused));
    stopReading(this.http2Stream);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    this.sentMessages++;
    super.sendMessage(message, callback);
  }

  protected override windowBytes(): number {
    return this.admission.streamWindowBytes;
  }

  override onCancel(): void {
    this.admission.release(this);
    super.onCancel();
  }

  shed(): void {
    this.finish(Status.RESOURCE_EXHAUSTED);
    this.http2Stream.close(SHED_RST_CODE);
  }
}

/**
 * The one server interceptor for observability, on every method of every service: counts each
 * call (started, messages received and sent, handled with its status code, handling time) in
 * {@link CallCounters} and stamps the response with the replica's identity — in the initial
 * metadata, or in the trailers for calls that end before any header (errors).
 *
 * Put it first in the server's `interceptors` so that it sits next to the transport and sees
 * the status every later interceptor or handler sends. A call counts as started when its
 * headers reach the application, and as handled exactly once: with the status that went out,
 * or — when the stream ended without one passing through here (client cancel, deadline) — with
 * Canceled or DeadlineExceeded.
 *
 * Being the layer next to the transport, it also confirms encoded messages early, within a
 * bounded window (write-behind.ts): one interceptor layer for both, as each layer costs every
 * call an object and a hop per event.
 */
export function callObserverInterceptor(options: CallObserverOptions): ServerInterceptor {
  const { counters, admission } = options;
  const writeBehindBytes = options.writeBehindBytes ?? DEFAULT_WRITE_BEHIND_BYTES;
  assertIntegerOptions({ writeBehindBytes }, 0);
  if (admission !== undefined) assertCallStreamReachable();
  const header = new Metadata();
  header.set(REPLICA_HEADER, options.replicaId);
  const shared: Shared = { counters, replicaId: options.replicaId, header, writeBehindBytes };
  /** Per method path: its counters, and whether admission control governs its calls. */
  const methods = new Map<string, { counters: MethodCounters; governed: boolean }>();
  return (descriptor, call) => {
    let method = methods.get(descriptor.path);
    if (method === undefined) {
      const { requestStream, responseStream } = descriptor;
      method = {
        counters: counters.forMethod(descriptor.path, requestStream, responseStream),
        governed:
          admission !== undefined &&
          (requestStream || responseStream) &&
          admission.governs(splitMethodPath(descriptor.path).service),
      };
      methods.set(descriptor.path, method);
    }
    return method.governed
      ? new AdmittedCall(call, method.counters, shared, http2StreamOf(call), admission!)
      : new ObservedCall(call, method.counters, shared);
  };
}

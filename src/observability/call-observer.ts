import { performance } from 'node:perf_hooks';
import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import {
  DEFAULT_WRITE_BEHIND_BYTES,
  sendWriteBehind,
  type WriteBehindState,
} from '../grpc/write-behind';
import { assertIntegerOptions } from '../routeguide/integer-options';
import type { CallCounters, MethodCounters } from './call-counters';
import { REPLICA_HEADER } from './replica';

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
  private startedAt = NaN;
  private finished = false;
  private headerSent = false;

  constructor(
    private readonly inner: ServerInterceptingCallInterface,
    private readonly method: MethodCounters,
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
    sendWriteBehind(this, this.inner, message, callback, this.shared.writeBehindBytes);
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
  private finish(code: number): void {
    if (this.finished || Number.isNaN(this.startedAt)) return;
    this.finished = true;
    this.shared.counters.handled(this.method, code, performance.now() - this.startedAt);
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
  const { counters } = options;
  const writeBehindBytes = options.writeBehindBytes ?? DEFAULT_WRITE_BEHIND_BYTES;
  assertIntegerOptions({ writeBehindBytes }, 0);
  const header = new Metadata();
  header.set(REPLICA_HEADER, options.replicaId);
  const shared: Shared = { counters, replicaId: options.replicaId, header, writeBehindBytes };
  return (descriptor, call) =>
    new ObservedCall(
      call,
      counters.forMethod(descriptor.path, descriptor.requestStream, descriptor.responseStream),
      shared,
    );
}

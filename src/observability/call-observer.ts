import { performance } from 'node:perf_hooks';
import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
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
}

/**
 * One call seen by the observer: it is both the intercepting call grpc-js talks to (handler
 * side) and the listener the next call reports to (transport side), so a call costs one object
 * and no closures. Every method does its bookkeeping and forwards at once (no asynchrony).
 */
class ObservedCall extends ServerInterceptingCall implements InterceptingServerListener {
  private listener: InterceptingServerListener | undefined;
  /** performance.now() when the call's headers arrived; NaN until then. */
  private startedAt = NaN;
  private finished = false;
  private headerSent = false;

  constructor(
    private readonly inner: ServerInterceptingCallInterface,
    private readonly counters: CallCounters,
    private readonly method: MethodCounters,
    private readonly replicaId: string,
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
    metadata.set(REPLICA_HEADER, this.replicaId);
    this.inner.sendMetadata(metadata);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (!this.headerSent) this.sendMetadata(new Metadata());
    this.method.sent++;
    this.inner.sendMessage(message, callback);
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
    metadata.set(REPLICA_HEADER, this.replicaId);
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
    this.counters.handled(this.method, code, performance.now() - this.startedAt);
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
 */
export function callObserverInterceptor(options: CallObserverOptions): ServerInterceptor {
  const { counters, replicaId } = options;
  return (descriptor, call) =>
    new ObservedCall(
      call,
      counters,
      counters.forMethod(descriptor.path, descriptor.requestStream, descriptor.responseStream),
      replicaId,
    );
}

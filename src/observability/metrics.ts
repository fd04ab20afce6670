import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as Status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How early grpc-js's deadline timer may fire relative to Date.now(). */
const DEADLINE_TIMER_SLACK_MS = 5;
/** grpc_type label values, as go-grpc-prometheus spells them. */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/**
 * Go's names for status codes (google.golang.org/grpc/codes `String()`), which is what
 * go-grpc-prometheus puts in `grpc_code` and what existing dashboards select on.
 */
const GO_CODE_NAMES: Readonly<Record<number, string>> = {
  [Status.OK]: 'OK',
  [Status.CANCELLED]: 'Canceled',
  [Status.UNKNOWN]: 'Unknown',
  [Status.INVALID_ARGUMENT]: 'InvalidArgument',
  [Status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [Status.NOT_FOUND]: 'NotFound',
  [Status.ALREADY_EXISTS]: 'AlreadyExists',
  [Status.PERMISSION_DENIED]: 'PermissionDenied',
  [Status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [Status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [Status.ABORTED]: 'Aborted',
  [Status.OUT_OF_RANGE]: 'OutOfRange',
  [Status.UNIMPLEMENTED]: 'Unimplemented',
  [Status.INTERNAL]: 'Internal',
  [Status.UNAVAILABLE]: 'Unavailable',
  [Status.DATA_LOSS]: 'DataLoss',
  [Status.UNAUTHENTICATED]: 'Unauthenticated',
};

/** `grpc_code` label for a numeric status; unknown numbers read `Code(n)` as in Go. */
export function goCodeName(code: number): string {
  return GO_CODE_NAMES[code] ?? `Code(${code})`;
}

/** The RPC type of a method, from its streaming flags. */
export function grpcType(requestStream: boolean, responseStream: boolean): GrpcType {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}

/** `/pkg.Service/Method` → service and method labels. */
export function splitMethodPath(path: string): { service: string; method: string } {
  const slash = path.lastIndexOf('/');
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** Options for {@link GrpcServerMetrics}. */
export interface GrpcServerMetricsOptions {
  /** Collect prom-client's default process and Node.js metrics. Default: true. */
  readonly defaultMetrics?: boolean;
}

type Labels = 'grpc_type' | 'grpc_service' | 'grpc_method';

/** One method's label children, resolved once so a call does no label hashing. */
interface MethodMetrics {
  readonly started: Counter.Internal;
  readonly received: Counter.Internal;
  readonly sent: Counter.Internal;
  readonly handling: Histogram.Internal<Labels>;
  /** By numeric status code. */
  readonly handled: Map<number, Counter.Internal>;
  readonly labels: Record<Labels, string>;
}

/**
 * The standard gRPC server metrics of go-grpc-prometheus, recorded once for every method of
 * every service by a grpc-js server interceptor, in a registry this object owns (so any number
 * of servers can live in one process).
 */
export class GrpcServerMetrics {
  readonly registry = new Registry();
  private readonly started: Counter<Labels>;
  private readonly handled: Counter<Labels | 'grpc_code'>;
  private readonly received: Counter<Labels>;
  private readonly sent: Counter<Labels>;
  private readonly handling: Histogram<Labels>;
  /** By method path; bounded by the registered methods (unknown ones never reach interceptors). */
  private readonly methods = new Map<string, MethodMetrics>();
  /** Plain totals beside the labelled counters, for {@link totals} (ORCA's QPS and EPS). */
  private handledTotal = 0;
  private failedTotal = 0;

  constructor(options: GrpcServerMetricsOptions = {}) {
    const registers = [this.registry];
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
    this.started = new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames,
      registers,
    });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
    });
    this.received = new Counter({
      name: 'grpc_server_msg_received_total',
      help: 'Total number of RPC stream messages received on the server.',
      labelNames,
      registers,
    });
    this.sent = new Counter({
      name: 'grpc_server_msg_sent_total',
      help: 'Total number of gRPC stream messages sent by the server.',
      labelNames,
      registers,
    });
    // Prometheus' DefBuckets, as go-grpc-prometheus uses.
    this.handling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** A gauge whose value is read from `read` at every scrape. */
  addGauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** Calls handled so far, and how many of them did not end OK (every service, every method). */
  totals(): { handled: number; failed: number } {
    return { handled: this.handledTotal, failed: this.failedTotal };
  }

  private forMethod(path: string, requestStream: boolean, responseStream: boolean) {
    let metrics = this.methods.get(path);
    if (metrics === undefined) {
      const { service, method } = splitMethodPath(path);
      const labels = {
        grpc_type: grpcType(requestStream, responseStream),
        grpc_service: service,
        grpc_method: method,
      };
      metrics = {
        started: this.started.labels(labels),
        received: this.received.labels(labels),
        sent: this.sent.labels(labels),
        handling: this.handling.labels(labels),
        handled: new Map(),
        labels,
      };
      this.methods.set(path, metrics);
    }
    return metrics;
  }

  private handledCounter(metrics: MethodMetrics, code: number): Counter.Internal {
    let counter = metrics.handled.get(code);
    if (counter === undefined) {
      counter = this.handled.labels({ ...metrics.labels, grpc_code: goCodeName(code) });
      metrics.handled.set(code, counter);
    }
    return counter;
  }

  /**
   * The interceptor. Put it first in the server's `interceptors` so that it sits next to the
   * transport and sees the status every other interceptor or handler sends.
   *
   * A call counts as started when its headers reach the application, and as handled exactly
   * once: with the status that went out, or — when the stream ended without one passing
   * through here (client cancel, deadline) — with Canceled or DeadlineExceeded.
   */
  interceptor(): ServerInterceptor {
    return (methodDescriptor, call) => {
      const metrics = this.forMethod(
        methodDescriptor.path,
        methodDescriptor.requestStream,
        methodDescriptor.responseStream,
      );
      let stopTimer: (() => void) | undefined;
      let finished = false;
      const finish = (code: number): void => {
        if (finished || stopTimer === undefined) return;
        finished = true;
        this.handledTotal += 1;
        if (code !== Status.OK) this.failedTotal += 1;
        this.handledCounter(metrics, code).inc();
        stopTimer();
      };
      const listener = new ServerListenerBuilder()
        .withOnReceiveMetadata((metadata, next) => {
          metrics.started.inc();
          stopTimer = metrics.handling.startTimer();
          next(metadata);
        })
        .withOnReceiveMessage((message, next) => {
          metrics.received.inc();
          next(message);
        })
        .withOnCancel(() => {
          // grpc-js also calls onCancel after a status was sent; `finish` ignores that.
          // grpc-js's deadline timer (libuv's millisecond loop clock) can fire a millisecond or so
          // before Date.now() reaches the deadline it computed, hence the slack.
          const deadline = call.getDeadline();
          const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
          const expired = deadlineMs <= Date.now() + DEADLINE_TIMER_SLACK_MS;
          finish(expired ? Status.DEADLINE_EXCEEDED : Status.CANCELLED);
        })
        .build();
      const responder = new ResponderBuilder()
        .withStart((next) => next(listener))
        .withSendMessage((message, next) => {
          metrics.sent.inc();
          next(message);
        })
        .withSendStatus((status, next) => {
          finish(status.code);
          next(status);
        })
        .build();
      return new ServerInterceptingCall(call, responder);
    };
  }
}

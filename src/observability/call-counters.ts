import { status as Status } from '@grpc/grpc-js';

/** grpc_type label values, as go-grpc-prometheus spells them. */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/**
 * Go's names for status codes (google.golang.org/grpc/codes `String()`), which is what
 * go-grpc-prometheus puts in `grpc_code` and what existing dashboards select on.
 */
const GO_CODE_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  names[Status.OK] = 'OK';
  names[Status.CANCELLED] = 'Canceled';
  names[Status.UNKNOWN] = 'Unknown';
  names[Status.INVALID_ARGUMENT] = 'InvalidArgument';
  names[Status.DEADLINE_EXCEEDED] = 'DeadlineExceeded';
  names[Status.NOT_FOUND] = 'NotFound';
  names[Status.ALREADY_EXISTS] = 'AlreadyExists';
  names[Status.PERMISSION_DENIED] = 'PermissionDenied';
  names[Status.RESOURCE_EXHAUSTED] = 'ResourceExhausted';
  names[Status.FAILED_PRECONDITION] = 'FailedPrecondition';
  names[Status.ABORTED] = 'Aborted';
  names[Status.OUT_OF_RANGE] = 'OutOfRange';
  names[Status.UNIMPLEMENTED] = 'Unimplemented';
  names[Status.INTERNAL] = 'Internal';
  names[Status.UNAVAILABLE] = 'Unavailable';
  names[Status.DATA_LOSS] = 'DataLoss';
  names[Status.UNAUTHENTICATED] = 'Unauthenticated';
  return names;
})();

/** Status codes 0..16 are counted in a fixed array; anything else goes to a map. */
const KNOWN_CODES = GO_CODE_NAMES.length;

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

/** Prometheus' DefBuckets (seconds), which go-grpc-prometheus uses for handling time. */
export const HANDLING_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);
const BUCKETS_MS = HANDLING_BUCKETS_SECONDS.map((seconds) => seconds * 1000);

/**
 * One method's counters: plain numbers, incremented in place. Nothing here hashes labels or
 * allocates; the labels are computed once, when the method is first called.
 */
export class MethodCounters {
  readonly type: GrpcType;
  readonly service: string;
  readonly method: string;
  started = 0;
  received = 0;
  sent = 0;
  /** Handled calls by status code (index = code, for codes 0..16). */
  readonly handled: number[] = new Array<number>(KNOWN_CODES).fill(0);
  /** Handled calls with codes outside 0..16 (never seen in practice). */
  readonly handledOther = new Map<number, number>();
  /** Handling-time histogram: calls per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets: number[] = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  /** Sum of handling times, in seconds. */
  handlingSeconds = 0;

  constructor(path: string, requestStream: boolean, responseStream: boolean) {
    const { service, method } = splitMethodPath(path);
    this.type = grpcType(requestStream, responseStream);
    this.service = service;
    this.method = method;
  }

  /** Handled calls, all codes together (the histogram's count). */
  get handledCount(): number {
    let total = 0;
    for (const n of this.buckets) total += n;
    return total;
  }
}

/**
 * What the server has handled, counted per method and status code with plain numbers, cheap
 * enough to run on every call. It knows nothing of Prometheus: the metrics exporter
 * (`metrics.ts`) reads it at scrape time, load reporting reads {@link CallCounters.totals}.
 */
export class CallCounters {
  /** By method path; bounded by the registered methods (unknown ones never reach interceptors). */
  private readonly methods = new Map<string, MethodCounters>();
  private handledTotal = 0;
  private failedTotal = 0;

  /** The counters of one method, created on its first call. */
  forMethod(path: string, requestStream: boolean, responseStream: boolean): MethodCounters {
    let counters = this.methods.get(path);
    if (counters === undefined) {
      counters = new MethodCounters(path, requestStream, responseStream);
      this.methods.set(path, counters);
    }
    return counters;
  }

  /** Records the end of a call: its status code and how long it took, in milliseconds. */
  handled(counters: MethodCounters, code: number, elapsedMs: number): void {
    if (code >= 0 && code < KNOWN_CODES) counters.handled[code]!++;
    else counters.handledOther.set(code, (counters.handledOther.get(code) ?? 0) + 1);
    let bucket = 0;
    while (bucket < BUCKETS_MS.length && elapsedMs > BUCKETS_MS[bucket]!) bucket++;
    counters.buckets[bucket]!++;
    counters.handlingSeconds += elapsedMs / 1000;
    this.handledTotal++;
    if (code !== Status.OK) this.failedTotal++;
  }

  /** Calls handled since start, and those among them whose status was not OK. */
  totals(): { handled: number; failed: number } {
    return { handled: this.handledTotal, failed: this.failedTotal };
  }

  /** Every method called so far. */
  all(): IterableIterator<MethodCounters> {
    return this.methods.values();
  }
}

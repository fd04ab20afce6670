import * as http2 from 'node:http2';
import { Metadata, status as Status } from '@grpc/grpc-js';
import type { MemoryBudget } from '../observability/memory-budget';
import { assertIntegerOptions } from '../util/integer-options';

import {
  DEFAULT_MAX_STREAMING_CALLS,
  DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION,
  DEFAULT_RETRY_PUSHBACK_MS,
} from './admission-defaults';

/** Services never refused nor shed: probes, load reports and tooling must get through. */
export const EXEMPT_SERVICES: readonly string[] = Object.freeze([
  'grpc.health.v1.Health',
  'xds.service.orca.v3.OpenRcaService',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
]);

/** Why a call was refused (the `reason` label of `routeguide_calls_refused_total`). */
export type RefusalReason = 'per_connection' | 'process_limit' | 'memory';
export const REFUSAL_REASONS: readonly RefusalReason[] = Object.freeze([
  'per_connection',
  'process_limit',
  'memory',
]);

const REFUSAL_DETAILS: Readonly<Record<RefusalReason, string>> = Object.freeze({
  per_connection: 'too many streaming calls on this connection',
  process_limit: 'server at its streaming call limit, try another replica',
  memory: 'server short of memory, try another replica',
});

/** grpc-js's status shape, as a server interceptor sends it. */
export interface RefusalStatus {
  readonly code: Status;
  readonly details: string;
  readonly metadata: Metadata;
}

/** The streaming calls admitted on one connection. */
interface ConnectionCalls {
  calls: number;
}

/** What admission control needs of an HTTP/2 stream: its buffered bytes, and a reset. */
export type AdmittedHttp2Stream = Pick<
  http2.ServerHttp2Stream,
  'bufferSize' | 'close' | 'session' | 'destroyed'
>;

/**
 * A streaming call admitted by {@link AdmissionControl} (the call observer's AdmittedCall).
 * The fields below `shed` are admission control's own bookkeeping.
 */
export interface AdmittedStream {
  /** Encoded bytes confirmed to the handler whose write has not completed (write-behind). */
  readonly pendingBytes: number;
  /** Messages handed to the transport so far: a stream that sends nothing has stalled. */
  readonly sentMessages: number;
  readonly http2Stream: AdmittedHttp2Stream;
  /** Ends the call at once (RST_STREAM ENHANCE_YOUR_CALM), counted as RESOURCE_EXHAUSTED. */
  shed(): void;
  connection: ConnectionCalls | undefined;
  /** `sentMessages` at the last memory sample. */
  progressMark: number;
  /** Sample number since which `sentMessages` has not moved. */
  stalledSince: number;
}

/** Options for {@link AdmissionControl}. */
export interface AdmissionOptions {
  /**
   * Streaming calls in progress per process; the next one is refused with UNAVAILABLE.
   * Default 1000 ({@link DEFAULT_MAX_STREAMING_CALLS}).
   */
  readonly maxCalls?: number;
  /**
   * Streaming calls in progress per connection; the next one is refused with
   * RESOURCE_EXHAUSTED. Default 100 ({@link DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION}).
   */
  readonly maxCallsPerConnection?: number;
  /**
   * `grpc-retry-pushback-ms` sent with every refusal: a client whose retry policy covers the
   * status waits this long, then (round robin) tries another replica. Default 250.
   */
  readonly pushbackMs?: number;
  /** Services whose calls are never counted, refused or shed. Default {@link EXEMPT_SERVICES}. */
  readonly exemptServices?: readonly string[];
  /**
   * The process's memory budget: above its soft mark new streaming calls are refused with
   * UNAVAILABLE, above its hard mark the heaviest stalled streams are shed. Default: none.
   */
  readonly memory?: MemoryBudget;
  /** Write-behind window of streaming calls (see write-behind.ts). Default 64 KiB. */
  readonly writeBehindBytes?: number;
  /**
   * Memory set aside for each streaming call admitted since the latest memory sample: a call is
   * refused (`memory`) when the latest RSS plus these reservations would pass the soft mark, so
   * a burst of calls between two samples cannot overshoot the budget. Default 1 MiB, what a
   * stalled ListFeatures of small features costs at the 64 KiB window on Node 24 (each pending
   * message carries a few hundred bytes of bookkeeping).
   */
  readonly reserveBytesPerCall?: number;
  /**
   * Write-behind window of streaming calls while memory is over the soft mark, so a stalled
   * reader holds only what its handler buffers. Default 0.
   */
  readonly pressureWriteBehindBytes?: number;
}

/**
 * Admission control for streaming calls, decided once per call before its handler runs (by the
 * call observer, the interceptor next to the transport), in this order:
 *
 * 1. over `maxCallsPerConnection` on the call's connection → RESOURCE_EXHAUSTED (a quota: this
 *    client asks too much; retrying elsewhere would not help it);
 * 2. memory over the soft watermark (at the latest sample, or once the calls admitted since
 *    then use their reserve) → UNAVAILABLE (shed load: another replica can serve it);
 * 3. over `maxCalls` in the process → UNAVAILABLE.
 *
 * Unary calls are not counted: they finish within an event-loop turn or two and hold nothing
 * (GetFeature keeps working at every limit). Health, ORCA and reflection are exempt.
 *
 * Above the hard watermark, every memory sample sheds stalled streams (those with unsent bytes
 * that sent nothing since the previous sample), heaviest first — the most unsent bytes (write-behind plus the
 * HTTP/2 stream's buffer), ties to the longest stalled — until their unsent bytes cover the
 * excess over the hard mark, at least one (Envoy's `reset_high_memory_stream`). A shed stream
 * is reset with RST_STREAM ENHANCE_YOUR_CALM, which clients report as RESOURCE_EXHAUSTED: its
 * trailers could not be sent, they would queue behind the data the reader does not take.
 */
export class AdmissionControl {
  readonly maxCalls: number;
  readonly maxCallsPerConnection: number;
  readonly pushback: string;
  readonly memory: MemoryBudget | undefined;
  private readonly exempt: ReadonlySet<string>;
  private readonly writeBehindBytes: number;
  private readonly pressureWriteBehindBytes: number;
  private readonly connections = new WeakMap<object, ConnectionCalls>();
  private readonly admitted = new Set<AdmittedStream>();
  private readonly reserveBytesPerCall: number;
  private samples = 0;
  /** Calls admitted since the latest memory sample. */
  private sinceSample = 0;
  /** The write-behind window streaming calls get now. */
  streamWindowBytes: number;
  /** Refused calls by reason, since start. */
  readonly refused: Record<RefusalReason, number> = {
    per_connection: 0,
    process_limit: 0,
    memory: 0,
  };
  /** Streams shed above the hard watermark, since start. */
  shedTotal = 0;

  constructor(options: AdmissionOptions = {}) {
    this.maxCalls = options.maxCalls ?? DEFAULT_MAX_STREAMING_CALLS;
    this.maxCallsPerConnection =
      options.maxCallsPerConnection ?? DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION;
    const pushbackMs = options.pushbackMs ?? DEFAULT_RETRY_PUSHBACK_MS;
    this.writeBehindBytes = options.writeBehindBytes ?? 64 * 1024;
    this.pressureWriteBehindBytes = options.pressureWriteBehindBytes ?? 0;
    this.reserveBytesPerCall = options.reserveBytesPerCall ?? 1024 * 1024;
    assertIntegerOptions(
      { maxCalls: this.maxCalls, maxCallsPerConnection: this.maxCallsPerConnection },
      1,
    );
    assertIntegerOptions(
      {
        pushbackMs,
        writeBehindBytes: this.writeBehindBytes,
        pressureWriteBehindBytes: this.pressureWriteBehindBytes,
        reserveBytesPerCall: this.reserveBytesPerCall,
      },
      0,
    );
    this.pushback = String(pushbackMs);
    this.exempt = new Set(options.exemptServices ?? EXEMPT_SERVICES);
    this.streamWindowBytes = this.writeBehindBytes;
    this.memory = options.memory;
    this.memory?.onSample(() => this.onMemorySample());
  }

  /** Streaming calls in progress (admitted and not yet ended). */
  get active(): number {
    return this.admitted.size;
  }

  /** Whether calls of `service` are subject to admission control. */
  governs(service: string): boolean {
    return !this.exempt.has(service);
  }

  /** Admits `call` (counting it until {@link release}), or returns why it is refused. */
  admit(call: AdmittedStream): RefusalReason | undefined {
    const session = call.http2Stream.session;
    let connection: ConnectionCalls | undefined;
    if (session !== undefined) {
      connection = this.connections.get(session);
      if (connection === undefined) {
        connection = { calls: 0 };
        this.connections.set(session, connection);
      }
      if (connection.calls >= this.maxCallsPerConnection) return this.refuse('per_connection');
    }
    if (this.memory !== undefined && this.overBudget(this.memory)) return this.refuse('memory');
    if (this.admitted.size >= this.maxCalls) return this.refuse('process_limit');
    if (connection !== undefined) connection.calls++;
    this.sinceSample++;
    call.connection = connection;
    call.progressMark = call.sentMessages;
    call.stalledSince = this.samples;
    this.admitted.add(call);
    return undefined;
  }

  /** Forgets an admitted call once it has ended; safe to call more than once. */
  release(call: AdmittedStream): void {
    if (!this.admitted.delete(call)) return;
    if (call.connection !== undefined) call.connection.calls--;
    call.connection = undefined;
  }

  /** The status a refused call ends with: its code, and the pushback trailer. */
  status(reason: RefusalReason): RefusalStatus {
    const metadata = new Metadata();
    metadata.set('grpc-retry-pushback-ms', this.pushback);
    const code = reason === 'per_connection' ? Status.RESOURCE_EXHAUSTED : Status.UNAVAILABLE;
    return { code, details: REFUSAL_DETAILS[reason], metadata };
  }

  /** Over the soft mark, now or once the calls admitted since the sample use their reserve. */
  private overBudget(memory: MemoryBudget): boolean {
    if (memory.pressure !== 'ok') return true;
    return memory.rssBytes + (this.sinceSample + 1) * this.reserveBytesPerCall > memory.softBytes;
  }

  private refuse(reason: RefusalReason): RefusalReason {
    this.refused[reason]++;
    return reason;
  }

  private onMemorySample(): void {
    const memory = this.memory!;
    this.samples++;
    this.sinceSample = 0;
    this.streamWindowBytes =
      memory.pressure === 'ok' ? this.writeBehindBytes : this.pressureWriteBehindBytes;
    for (const call of this.admitted) {
      if (call.sentMessages !== call.progressMark) {
        call.progressMark = call.sentMessages;
        call.stalledSince = this.samples;
      }
    }
    if (memory.pressure === 'hard') this.shedHeaviest(memory.rssBytes - memory.hardBytes);
  }

  /** Sheds stalled streams, heaviest first, until their unsent bytes cover `excessBytes`. */
  private shedHeaviest(excessBytes: number): void {
    const stalled: { call: AdmittedStream; unsent: number }[] = [];
    for (const call of this.admitted) {
      const unsent = Math.max(call.pendingBytes, call.http2Stream.bufferSize);
      if (call.stalledSince < this.samples && unsent > 0) {
        stalled.push({ call, unsent });
      }
    }
    stalled.sort((a, b) => b.unsent - a.unsent || a.call.stalledSince - b.call.stalledSince);
    let freed = 0;
    for (const { call, unsent } of stalled) {
      if (freed > 0 && freed >= excessBytes) break;
      freed += unsent;
      this.release(call);
      this.shedTotal++;
      call.shed();
    }
  }
}

/** The RST_STREAM code of a shed stream; clients report it as RESOURCE_EXHAUSTED. */
export const SHED_RST_CODE = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM;

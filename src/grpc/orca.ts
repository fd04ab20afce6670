import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { cpuLimit as detectCpuLimit } from '../observability/cpu-limit';

/** Calls this process has finished so far; both only ever grow. */
export interface CallTotals {
  /** Every call that ended (any status). */
  readonly handled: number;
  /** Calls that ended with a status other than OK. */
  readonly failed: number;
}

/**
 * Where the reporter reads call counts from: the server's `CallCounters.totals()`
 * (observability/call-counters.ts), kept with metrics on or off.
 */
export type CallTotalsSource = () => CallTotals;

/** Options for {@link OrcaLoadReporter}. */
export interface OrcaLoadReporterOptions {
  /** Call counts, read once per sample to derive QPS and errors per second. */
  readonly totals: CallTotalsSource;
  /** Length of the window CPU, QPS and EPS are averaged over, in ms. Default 1000. */
  readonly sampleIntervalMs?: number;
  /**
   * Shortest report interval a client may ask for in StreamCoreMetrics, in ms; shorter requests
   * get this (and a request without one gets {@link DEFAULT_REPORT_INTERVAL_MS}). Default 1000.
   */
  readonly minReportIntervalMs?: number;
  /**
   * CPUs the process may use, read at the first sample and every {@link CPU_LIMIT_REFRESH_SAMPLES}th
   * after (a quota can change at run time, e.g. a Kubernetes in-place resize). Default: the cgroup
   * CPU quota (v1 or v2) capped at `os.availableParallelism()`, see observability/cpu-limit.ts
   * (about 0.4 ms per read: it parses /proc/self/mountinfo).
   */
  readonly cpuLimit?: () => number;
  /**
   * The share of the process's memory budget in use (RSS ÷ budget, see memory-budget.ts), read
   * once per sample. Default: none (reported as 0).
   */
  readonly memoryUtilization?: () => number;
  /** Told about a sample or a report that failed (the reporter carries on). Default: ignore. */
  readonly onError?: (error: unknown) => void;
}

/** What a StreamCoreMetrics client gets when it does not say (grpc-go and grpc-js use 30 s). */
export const DEFAULT_REPORT_INTERVAL_MS = 30_000;
export const DEFAULT_MIN_REPORT_INTERVAL_MS = 1_000;
export const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;
/**
 * Longest report interval granted: Node runs a timer longer than 2³¹−1 ms every millisecond
 * instead, so a client asking for a year must not get one.
 */
export const MAX_REPORT_INTERVAL_MS = 3_600_000;
/** The CPU limit is read again every this many samples (10 s at the default interval). */
export const CPU_LIMIT_REFRESH_SAMPLES = 10;

export const ORCA_SERVICE_NAME = 'xds.service.orca.v3.OpenRcaService';

/** The fields of `xds.data.orca.v3.OrcaLoadReport` this server fills in. */
export interface OrcaLoadReport {
  /** CPU time used over the last window ÷ (window × CPUs the process may use). */
  readonly cpu_utilization: number;
  /** Share of the memory budget in use (RSS ÷ budget); 0 without a budget. */
  readonly mem_utilization: number;
  /**
   * The larger of the two: grpc-js's weighted_round_robin (1.14) reads only
   * `application_utilization`, while gRFC A58 reads it first and falls back to CPU. A replica
   * short of memory thus gets a smaller weight (QPS ÷ utilization) even while its CPU idles:
   * it refuses new streams there, and less traffic is sent to it.
   */
  readonly application_utilization: number;
  /** Calls finished per second over the last window. */
  readonly rps_fractional: number;
  /** Calls finished with a non-OK status per second over the last window. */
  readonly eps: number;
}

const ZERO_REPORT: OrcaLoadReport = Object.freeze({
  cpu_utilization: 0,
  mem_utilization: 0,
  application_utilization: 0,
  rps_fractional: 0,
  eps: 0,
});

/** grpc-js ships the ORCA protos (xds/service/orca/v3/orca.proto) under its proto/ folder. */
const GRPC_JS_PROTO_DIR = path.resolve(
  path.dirname(require.resolve('@grpc/grpc-js')),
  '..',
  '..',
  'proto',
);

function loadOrcaServiceDefinition(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync('xds/service/orca/v3/orca.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [
      path.join(GRPC_JS_PROTO_DIR, 'xds'),
      path.join(GRPC_JS_PROTO_DIR, 'protoc-gen-validate'),
    ],
  });
  const service = definition[ORCA_SERVICE_NAME];
  if (service === undefined) throw new Error(`${ORCA_SERVICE_NAME} missing from orca.proto`);
  return service as grpc.ServiceDefinition;
}

interface DurationMessage {
  readonly seconds?: string | number;
  readonly nanos?: number;
}

function durationMs(duration: DurationMessage | null | undefined): number {
  if (!duration) return 0;
  return Number(duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6;
}

type OrcaStream = grpc.ServerWritableStream<{ report_interval?: DurationMessage | null }, unknown>;

/**
 * Backend load reports over ORCA (gRFC A51), out of band: `xds.service.orca.v3.OpenRcaService`
 * StreamCoreMetrics sends each subscribed client this process's CPU utilization, memory
 * budget utilization, QPS and errors per second every report interval. Clients running `weighted_round_robin` with
 * `enable_oob_load_report` (gRFC A58) weight each replica by QPS ÷ utilization.
 *
 * Everything is computed once per sample on a timer (one `process.cpuUsage()`, one read of the
 * call totals, a few small cgroup file reads); nothing is done per call. Per-call reports
 * (`grpc.server_call_metric_recording`) are deliberately not used: grpc-js 1.14 re-parses the
 * ORCA .proto files for every report it serializes and for every one its client parses.
 */
export class OrcaLoadReporter {
  private readonly totals: CallTotalsSource;
  private readonly sampleIntervalMs: number;
  private readonly minReportIntervalMs: number;
  private readonly cpuLimit: () => number;
  private readonly memoryUtilization: () => number;
  private readonly onError: (error: unknown) => void;
  private readonly streams = new Map<OrcaStream, NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;
  private last: { cpu: NodeJS.CpuUsage; at: bigint; handled: number; failed: number } | undefined;
  private latest: OrcaLoadReport = ZERO_REPORT;
  private samples = 0;
  private limit = 0;

  constructor(options: OrcaLoadReporterOptions) {
    this.totals = options.totals;
    this.sampleIntervalMs = options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    this.minReportIntervalMs = options.minReportIntervalMs ?? DEFAULT_MIN_REPORT_INTERVAL_MS;
    this.cpuLimit = options.cpuLimit ?? detectCpuLimit;
    this.memoryUtilization = options.memoryUtilization ?? (() => 0);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Runs `work`, handing any error to `onError`: a timer callback must never throw. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.onError(error);
    }
  }

  /** The latest report (all zero until the first window has passed). */
  get report(): OrcaLoadReport {
    return this.latest;
  }

  /** Starts sampling; the first report is ready one sample interval later. */
  start(): void {
    if (this.timer !== undefined) return;
    this.guarded(() => this.sample());
    this.timer = setInterval(() => this.guarded(() => this.sample()), this.sampleIntervalMs);
    this.timer.unref();
  }

  /**
   * Stops sampling and ends every open StreamCoreMetrics stream (they never end by themselves),
   * with UNAVAILABLE: a grpc-js client subscribes again after an error, but after a stream that
   * ended OK it never does for that subchannel, even once it reconnects to a new server there.
   */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.endStreams();
  }

  /** Ends every StreamCoreMetrics stream (UNAVAILABLE), so they do not hold a graceful shutdown up. */
  endStreams(): void {
    for (const [call, timer] of this.streams) {
      clearInterval(timer);
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server shutting down' });
    }
    this.streams.clear();
  }

  /** Takes one sample now: the averages over the time since the previous one. */
  sample(): void {
    const cpu = process.cpuUsage();
    const at = process.hrtime.bigint();
    const { handled, failed } = this.totals();
    const last = this.last;
    this.last = { cpu, at, handled, failed };
    if (last === undefined) return;
    const elapsedUs = Number(at - last.at) / 1000;
    if (elapsedUs <= 0) return;
    const usedUs = cpu.user - last.cpu.user + (cpu.system - last.cpu.system);
    if (this.samples++ % CPU_LIMIT_REFRESH_SAMPLES === 0) this.limit = this.cpuLimit();
    const limit = this.limit;
    const utilization = limit > 0 ? Math.max(0, usedUs / elapsedUs / limit) : 0;
    const perSecond = 1e6 / elapsedUs;
    const memory = Math.max(0, this.memoryUtilization());
    this.latest = {
      cpu_utilization: utilization,
      mem_utilization: memory,
      application_utilization: Math.max(utilization, memory),
      rps_fractional: Math.max(0, handled - last.handled) * perSecond,
      eps: Math.max(0, failed - last.failed) * perSecond,
    };
  }

  addToServer(server: grpc.Server): void {
    server.addService(loadOrcaServiceDefinition(), {
      StreamCoreMetrics: (call: OrcaStream) => this.subscribe(call),
    });
  }

  private subscribe(call: OrcaStream): void {
    const requested = durationMs(call.request.report_interval);
    const intervalMs = Math.min(
      Math.max(requested > 0 ? requested : DEFAULT_REPORT_INTERVAL_MS, this.minReportIntervalMs),
      MAX_REPORT_INTERVAL_MS,
    );
    const send = (): void =>
      this.guarded(() => {
        // A client that stops reading gets no more reports until it catches up.
        if (!call.writableNeedDrain) call.write(this.latest);
      });
    if (this.latest !== ZERO_REPORT) send();
    const timer = setInterval(send, intervalMs);
    this.streams.set(call, timer);
    const forget = (): void => {
      clearInterval(timer);
      this.streams.delete(call);
    };
    call.once('cancelled', forget);
    call.once('error', forget);
    call.once('finish', forget);
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  HANDLING_BUCKETS_SECONDS,
  goCodeName,
  type CallCounters,
  type MethodCounters,
} from './call-counters';

/** Options for {@link GrpcServerMetrics}. */
export interface GrpcServerMetricsOptions {
  /** The counters the call observer fills; read at every scrape. Required. */
  readonly counters: CallCounters;
  /** Collect prom-client's default process and Node.js metrics. Default: true. */
  readonly defaultMetrics?: boolean;
}

type Labels = 'grpc_type' | 'grpc_service' | 'grpc_method';

function labelsOf(method: MethodCounters): Record<Labels, string> {
  return { grpc_type: method.type, grpc_service: method.service, grpc_method: method.method };
}

const HANDLING_HELP =
  'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.';

/** One exported sample, in the shape prom-client's registry formats. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

/**
 * `grpc_server_handling_seconds`, built at scrape time from the counters' buckets (prom-client
 * has no way to set a histogram's counts, only to observe values one by one).
 */
class HandlingHistogram extends Histogram<Labels> {
  constructor(
    registry: Registry,
    private readonly counters: CallCounters,
  ) {
    super({
      name: 'grpc_server_handling_seconds',
      help: HANDLING_HELP,
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      buckets: [...HANDLING_BUCKETS_SECONDS],
      registers: [registry],
    });
  }

  /** What prom-client's registry formats for the text exposition (`get()` builds on it). */
  getForPromString(): Promise<{
    name: string;
    help: string;
    type: string;
    values: ExportedValue[];
    aggregator: string;
  }> {
    const name = 'grpc_server_handling_seconds';
    const values: ExportedValue[] = [];
    for (const method of this.counters.all()) {
      const sharedLabels = labelsOf(method);
      let cumulative = 0;
      HANDLING_BUCKETS_SECONDS.forEach((le, i) => {
        cumulative += method.buckets[i]!;
        values.push({
          labels: { le },
          sharedLabels,
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      });
      const count = method.handledCount;
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: count, metricName: `${name}_bucket` },
        { labels: {}, sharedLabels, value: method.handlingSeconds, metricName: `${name}_sum` },
        { labels: {}, sharedLabels, value: count, metricName: `${name}_count` },
      );
    }
    return Promise.resolve({
      name,
      help: HANDLING_HELP,
      type: 'histogram',
      values,
      aggregator: 'sum',
    });
  }
}

/**
 * The standard gRPC server metrics of go-grpc-prometheus, exported from {@link CallCounters}
 * (which the call observer fills with plain numbers on every call) when Prometheus scrapes, in
 * a registry this object owns (so any number of servers can live in one process). No label
 * is hashed and nothing is allocated per call: the cost is all at scrape time.
 */
export class GrpcServerMetrics {
  readonly registry = new Registry();

  constructor(options: GrpcServerMetricsOptions) {
    const { counters } = options;
    const registers = [this.registry];
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
    /** A counter whose per-method values are read from the counters at every scrape. */
    const perMethod = (name: string, help: string, read: (m: MethodCounters) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const method of counters.all()) this.inc(labelsOf(method), read(method));
        },
      });
    perMethod(
      'grpc_server_started_total',
      'Total number of RPCs started on the server.',
      (m) => m.started,
    );
    new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
      collect() {
        this.reset();
        for (const method of counters.all()) {
          const labels = labelsOf(method);
          method.handled.forEach((n, code) => {
            if (n > 0) this.inc({ ...labels, grpc_code: goCodeName(code) }, n);
          });
          for (const [code, n] of method.handledOther) {
            this.inc({ ...labels, grpc_code: goCodeName(code) }, n);
          }
        }
      },
    });
    perMethod(
      'grpc_server_msg_received_total',
      'Total number of RPC stream messages received on the server.',
      (m) => m.received,
    );
    perMethod(
      'grpc_server_msg_sent_total',
      'Total number of gRPC stream messages sent by the server.',
      (m) => m.sent,
    );
    new HandlingHistogram(this.registry, counters);
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
}

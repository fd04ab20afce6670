import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../src/generated/route_guide';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { GOOGLE_API_PROTO_DIR, PROTO_LOADER_OPTIONS } from '../../src/protocol/proto';

/**
 * A RouteGuide client on its own connection (a local subchannel pool), with protos/ found above
 * this file: these helpers also run compiled elsewhere (the benchmark's .tmp/bench-dist/).
 */
export function newRouteGuideClient(address: string): RouteGuideClient {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'protos', 'route_guide.proto'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no protos/route_guide.proto above ${__dirname}`);
    dir = parent;
  }
  const protos = path.join(dir, 'protos');
  const definition = protoLoader.loadSync(path.join(protos, 'route_guide.proto'), {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [protos, GOOGLE_API_PROTO_DIR],
  });
  const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return new proto.routeguide.RouteGuide(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

/** Options of {@link startProbe}. */
export interface ProbeOptions {
  /** Deadline of each GetFeature; a call that misses it counts as an error of this latency. Default 2000 ms. */
  readonly deadlineMs?: number;
  /**
   * The probe opens a new connection (a new channel with its own subchannel) this often, so
   * that it also measures whether the server still accepts connections. Default 1000 ms.
   */
  readonly reconnectEveryMs?: number;
  /** Pause between calls. Default 5 ms. */
  readonly pauseMs?: number;
}

/** One probe call: when it ended (performance.now()), how long it took, and its status. */
export interface ProbeSample {
  readonly at: number;
  readonly ms: number;
  readonly code: grpc.status;
}

/** What the probe saw in a time window. */
export interface ProbeWindow {
  readonly calls: number;
  readonly errors: number;
  /** Status names of the errors, counted. */
  readonly errorCodes: Record<string, number>;
  /** Latency percentiles of every call, errors included (nearest rank); NaN without calls. */
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A well-behaved client running GetFeature in a loop until stopped. */
export interface Probe {
  /** Marks a point in time (performance.now()) for {@link Probe.window}. */
  now(): number;
  /** The calls that ended in [from, to). */
  window(from: number, to?: number): ProbeWindow;
  /** Stops the loop, waits for the call in flight and closes the channel. */
  stop(): Promise<void>;
}

const PROBE_POINT = { latitude: 0, longitude: 0 };

/** Nearest-rank percentile of sorted samples; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Summarises probe samples (exported for callers with their own samples). */
export function summarizeSamples(samples: readonly ProbeSample[]): ProbeWindow {
  const sorted = Float64Array.from(samples, (s) => s.ms).sort();
  const errorCodes: Record<string, number> = {};
  for (const s of samples) {
    if (s.code !== grpc.status.OK) {
      const name = grpc.status[s.code] ?? String(s.code);
      errorCodes[name] = (errorCodes[name] ?? 0) + 1;
    }
  }
  return {
    calls: samples.length,
    errors: samples.filter((s) => s.code !== grpc.status.OK).length,
    errorCodes,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    maxMs: percentile(sorted, 1),
  };
}

/**
 * Starts a probe against `address` (host:port): one GetFeature at a time, each with a
 * deadline, on a channel that is replaced every `reconnectEveryMs`.
 */
export function startProbe(address: string, options: ProbeOptions = {}): Probe {
  const deadlineMs = options.deadlineMs ?? 2000;
  const reconnectEveryMs = options.reconnectEveryMs ?? 1000;
  const pauseMs = options.pauseMs ?? 5;
  const open = (): RouteGuideClient => newRouteGuideClient(address);
  const samples: ProbeSample[] = [];
  let running = true;
  const call = (client: RouteGuideClient): Promise<grpc.status> =>
    new Promise((resolve) =>
      client.GetFeature(PROBE_POINT, { deadline: Date.now() + deadlineMs }, (error) =>
        resolve(error ? error.code : grpc.status.OK),
      ),
    );
  const loop = async (): Promise<void> => {
    let client = open();
    let openedAt = performance.now();
    try {
      while (running) {
        if (performance.now() - openedAt >= reconnectEveryMs) {
          client.close();
          client = open();
          openedAt = performance.now();
        }
        const started = performance.now();
        const code = await call(client);
        const at = performance.now();
        samples.push({ at, ms: at - started, code });
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    } finally {
      client.close();
    }
  };
  const done = loop();
  return {
    now: () => performance.now(),
    window: (from, to = Infinity) =>
      summarizeSamples(samples.filter((s) => s.at >= from && s.at < to)),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

import { spawn } from 'node:child_process';
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
  const protos = path.join(repositoryRoot(), 'protos');
  const definition = protoLoader.loadSync(path.join(protos, 'route_guide.proto'), {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [protos, GOOGLE_API_PROTO_DIR],
  });
  const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return new proto.routeguide.RouteGuide(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

/** The directory holding protos/ above this file (the source tree or the benchmark's build). */
function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'protos', 'route_guide.proto'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no protos/route_guide.proto above ${__dirname}`);
    dir = parent;
  }
  return dir;
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
  /** Resolves once the probe has completed its first call (it is connected and measuring). */
  ready(): Promise<void>;
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
    ready: () => Promise.resolve(),
    window: (from, to = Infinity) =>
      summarizeSamples(samples.filter((s) => s.at >= from && s.at < to)),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * The probe loop of {@link startProbe}, as a program of its own (`node -e`): argv is the address
 * and the options as JSON; each call is sent to the parent as `{at, ms, code}` with `at` in
 * epoch milliseconds (performance.timeOrigin + now); it stops on 'stop' or when the parent goes.
 */
const PROBE_PROGRAM = `
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const [address, json] = process.argv.slice(1);
const o = JSON.parse(json);
const definition = protoLoader.loadSync(path.join(o.protos, 'route_guide.proto'), {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  includeDirs: [o.protos, o.googleApi],
});
const RouteGuide = grpc.loadPackageDefinition(definition).routeguide.RouteGuide;
const open = () => new RouteGuide(address, grpc.credentials.createInsecure(),
  { 'grpc.use_local_subchannel_pool': 1 });
let running = true;
process.on('message', (m) => { if (m === 'stop') running = false; });
process.on('disconnect', () => { running = false; });
(async () => {
  let client = open();
  let openedAt = performance.now();
  while (running) {
    if (o.reconnectEveryMs >= 0 && performance.now() - openedAt >= o.reconnectEveryMs) {
      client.close();
      client = open();
      openedAt = performance.now();
    }
    const started = performance.now();
    const code = await new Promise((resolve) =>
      client.GetFeature({ latitude: 0, longitude: 0 }, { deadline: Date.now() + o.deadlineMs },
        (error) => resolve(error ? error.code : 0)));
    const at = performance.now();
    if (process.connected) process.send({ at: performance.timeOrigin + at, ms: at - started, code });
    await new Promise((resolve) => setTimeout(resolve, o.pauseMs));
  }
  client.close();
  if (process.connected) process.send('done', () => process.disconnect());
})();
`;

/**
 * {@link startProbe} in a process of its own, so that what it measures is the server, not the
 * event loop of a test process that also runs the attacker's clients (decoding an attack's
 * streams costs a client more than serving them costs the server). Same options and interface;
 * `now()` and sample times are epoch milliseconds with sub-millisecond resolution.
 */
export function startProbeProcess(address: string, options: ProbeOptions = {}): Probe {
  const reconnectEveryMs = options.reconnectEveryMs ?? 1000;
  const settings = {
    deadlineMs: options.deadlineMs ?? 2000,
    reconnectEveryMs: Number.isFinite(reconnectEveryMs) ? reconnectEveryMs : -1,
    pauseMs: options.pauseMs ?? 5,
    protos: path.join(repositoryRoot(), 'protos'),
    googleApi: GOOGLE_API_PROTO_DIR,
  };
  const child = spawn(process.execPath, ['-e', PROBE_PROGRAM, address, JSON.stringify(settings)], {
    cwd: repositoryRoot(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const samples: ProbeSample[] = [];
  let first: () => void = () => {};
  const ready = new Promise<void>((resolve) => (first = resolve));
  child.on('message', (message: ProbeSample | 'done') => {
    if (message === 'done') return;
    samples.push(message);
    first();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    now: () => performance.timeOrigin + performance.now(),
    // Also settles if the program ends without a call (a broken probe fails on its windows).
    ready: () => Promise.race([ready, exited]),
    window: (from, to = Infinity) =>
      summarizeSamples(samples.filter((s) => s.at >= from && s.at < to)),
    stop: () =>
      (stopping ??= (async () => {
        if (child.connected) child.send('stop');
        const killer = setTimeout(() => child.kill('SIGKILL'), (settings.deadlineMs + 1000) * 2);
        await exited;
        clearTimeout(killer);
      })()),
  };
}

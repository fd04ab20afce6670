import { performance } from 'node:perf_hooks';
import { status as Status } from '@grpc/grpc-js';
import type { Point } from '../generated/routeguide/Point';
import type { RouteGuideClient } from './client';

/** Label for calls whose replica is unknown (the server sent no `x-routeguide-replica`). */
export const UNKNOWN_REPLICA = '(unknown)';

/** A point of the canonical database (its first feature), so every call finds a feature. */
export const SPREAD_POINT: Point = Object.freeze({ latitude: 407838351, longitude: -746143763 });

export interface SpreadOptions {
  /** Number of GetFeature calls. */
  readonly calls: number;
  /** Calls in flight at once. Default 1 (strictly sequential, so round robin shows exactly). */
  readonly concurrency?: number;
  /** Point to ask for; default SPREAD_POINT. */
  readonly point?: Point;
  /**
   * Before the counted calls, keep `concurrency` calls in flight for this long and count none
   * of them: lets weighted round robin's weights settle. Default 0.
   */
  readonly warmupMs?: number;
  /** Called after each call ends, with the number of calls done so far. */
  readonly onProgress?: (done: number) => void;
}

/** Call latency percentiles in milliseconds (nearest rank, 0.01 ms resolution). */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface SpreadResult {
  readonly calls: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Successful calls per replica, sorted by replica name. */
  readonly replicas: Record<string, number>;
  /** Failed calls per error message (`CODE_NAME: details`). */
  readonly errors: Record<string, number>;
  readonly elapsedMs: number;
  /** Latency of every call, failed ones included (retries are part of a call). */
  readonly latencyMs: LatencySummary;
  /** Latency of the successful calls each replica answered, sorted like `replicas`. */
  readonly replicaLatencyMs: Record<string, LatencySummary>;
}

/** Nearest-rank percentiles of `samples` (copied, not modified). */
export function latencySummary(samples: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => {
    if (sorted.length === 0) return 0;
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return Math.round(sorted[index]! * 100) / 100;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

function errorKey(error: unknown): string {
  const e = error as { code?: number; details?: string; message?: string };
  if (typeof e.code === 'number' && e.details !== undefined) {
    return `${Status[e.code] ?? e.code}: ${e.details}`;
  }
  return String(e.message ?? error);
}

function sorted(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Fires `calls` GetFeature calls through one client, `concurrency` at a time, and counts which
 * replica answered each: with round robin every replica gets its share.
 */
export async function spread(
  client: RouteGuideClient,
  options: SpreadOptions,
): Promise<SpreadResult> {
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, options.calls));
  const point = options.point ?? SPREAD_POINT;
  if ((options.warmupMs ?? 0) > 0) {
    const until = Date.now() + options.warmupMs!;
    const warm = async (): Promise<void> => {
      while (Date.now() < until) await client.getFeature(point).catch(() => undefined);
    };
    await Promise.all(Array.from({ length: concurrency }, warm));
  }
  const replicas = new Map<string, number>();
  const latencies = new Float64Array(options.calls);
  const byReplica = new Map<string, number[]>();
  const errors = new Map<string, number>();
  let next = 0;
  let done = 0;
  let failed = 0;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (next < options.calls) {
      const index = next;
      next += 1;
      const callStarted = performance.now();
      try {
        const { replica } = await client.getFeature(point);
        const ms = performance.now() - callStarted;
        latencies[index] = ms;
        const key = replica ?? UNKNOWN_REPLICA;
        replicas.set(key, (replicas.get(key) ?? 0) + 1);
        let samples = byReplica.get(key);
        if (samples === undefined) byReplica.set(key, (samples = []));
        samples.push(ms);
      } catch (error) {
        latencies[index] = performance.now() - callStarted;
        failed += 1;
        const key = errorKey(error);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
      done += 1;
      options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    calls: options.calls,
    succeeded: options.calls - failed,
    failed,
    replicas: sorted(replicas),
    errors: sorted(errors),
    elapsedMs: Date.now() - started,
    latencyMs: latencySummary(latencies),
    replicaLatencyMs: Object.fromEntries(
      [...byReplica]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([replica, samples]) => [replica, latencySummary(samples)]),
    ),
  };
}

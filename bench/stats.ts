import type { LoadResult } from './protocol';

/** The value below which `q` of the sorted samples fall (nearest rank). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** One measured phase: what the clients saw and what it cost the server. */
export interface PhaseFigures {
  calls: number;
  errors: number;
  firstError?: string;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Server user+system CPU per call, in microseconds. */
  cpuUsPerCall: number;
  /** Items (features or notes streamed back, route points sent) per call. */
  itemsPerCall: number;
  /** Server CPU per item, in microseconds (streaming calls). */
  cpuUsPerItem: number;
}

/** Merges the workers' results for one phase with the server CPU it took. */
export function summarize(results: LoadResult[], serverCpuMs: number): PhaseFigures {
  const latencies = Float64Array.from(results.flatMap((r) => r.latenciesUs)).sort();
  const calls = results.reduce((n, r) => n + r.calls, 0);
  const items = results.reduce((n, r) => n + r.items, 0);
  const wallMs = Math.max(...results.map((r) => r.wallMs));
  const figures: PhaseFigures = {
    calls,
    errors: results.reduce((n, r) => n + r.errors, 0),
    callsPerSecond: calls / (wallMs / 1000),
    p50Ms: percentile(latencies, 0.5) / 1000,
    p99Ms: percentile(latencies, 0.99) / 1000,
    cpuUsPerCall: (serverCpuMs * 1000) / calls,
    itemsPerCall: items / calls,
    cpuUsPerItem: (serverCpuMs * 1000) / items,
  };
  const firstError = results.find((r) => r.firstError)?.firstError;
  if (firstError !== undefined) figures.firstError = firstError;
  return figures;
}

/** Two measurements of one server as one: each figure is the mean of the two. */
export function meanFigures(a: PhaseFigures, b: PhaseFigures): PhaseFigures {
  const mean = (x: number, y: number): number => (x + y) / 2;
  const figures: PhaseFigures = {
    calls: a.calls + b.calls,
    errors: a.errors + b.errors,
    callsPerSecond: mean(a.callsPerSecond, b.callsPerSecond),
    p50Ms: mean(a.p50Ms, b.p50Ms),
    p99Ms: mean(a.p99Ms, b.p99Ms),
    cpuUsPerCall: mean(a.cpuUsPerCall, b.cpuUsPerCall),
    itemsPerCall: mean(a.itemsPerCall, b.itemsPerCall),
    cpuUsPerItem: mean(a.cpuUsPerItem, b.cpuUsPerItem),
  };
  const firstError = a.firstError ?? b.firstError;
  if (firstError !== undefined) figures.firstError = firstError;
  return figures;
}

import path from 'node:path';
import type { RouteGuideClient } from '../../src/client/client';
import { spread, type SpreadResult } from '../../src/client/spread';
import { servingPort, spawnServer, type ServerProcess } from './process';

/** Test-only preload that makes a server process a slow replica (see cpu-burner.js). */
export const CPU_BURNER = path.resolve(__dirname, 'cpu-burner.js');

/** Server processes `${prefix}1…count` on 127.0.0.1:0; `slow` (1-based) gets the CPU burner. */
export async function startProcessReplicas(
  count: number,
  options: { prefix: string; slow?: number; env?: Record<string, string> },
): Promise<{ processes: ServerProcess[]; target: string }> {
  const processes = Array.from({ length: count }, (_, i) =>
    spawnServer(
      { METRICS: 'false', ...options.env, REPLICA_ID: `${options.prefix}${i + 1}` },
      i + 1 === options.slow ? { nodeArgs: ['--require', CPU_BURNER] } : {},
    ),
  );
  const ports = await Promise.all(processes.map((p) => servingPort(p)));
  return { processes, target: `ipv4:${ports.map((port) => `127.0.0.1:${port}`).join(',')}` };
}

/** Keeps `concurrency` GetFeature calls in flight for at least `ms` (weights settle meanwhile). */
export async function loadFor(
  client: RouteGuideClient,
  ms: number,
  concurrency = 10,
): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await spread(client, { calls: 100, concurrency });
}

/** Share of the calls `replica` answered, 0…1. */
export function share(result: SpreadResult, replica: string): number {
  return (result.replicas[replica] ?? 0) / result.calls;
}

/** One line for the test log: calls per replica, share of `replica`, latency. */
export function describeSpread(label: string, result: SpreadResult, replica: string): string {
  return (
    `${label}: ${JSON.stringify(result.replicas)}, ${replica} ${(100 * share(result, replica)).toFixed(1)}%, ` +
    `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, failed ${result.failed}`
  );
}

import type { RouteGuideClient } from '../../src/client/client';
import { SPREAD_POINT } from '../../src/client/spread';
import { startTestServer, type TestServer } from './server';

/** Starts `count` in-process servers on 127.0.0.1:0 named `${prefix}1`, `${prefix}2`, …. */
export async function startReplicas(
  count: number,
  options: { prefix?: string; env?: Record<string, string> } = {},
): Promise<TestServer[]> {
  const prefix = options.prefix ?? 'replica-';
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      startTestServer({ env: { ...options.env, REPLICA_ID: `${prefix}${i + 1}` } }),
    ),
  );
}

/** `ipv4:a:p,b:p,…` for the given servers. */
export function ipv4Target(servers: readonly { address: string }[]): string {
  return `ipv4:${servers.map((s) => s.address).join(',')}`;
}

export async function closeAll(servers: readonly { close(): Promise<void> }[]): Promise<void> {
  await Promise.all(servers.map((s) => s.close()));
}

/** Calls until every replica has answered once, so round robin has all three subchannels. */
export async function warmUp(
  client: RouteGuideClient,
  replicas: readonly string[],
  maxCalls = 500,
): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < maxCalls && seen.size < replicas.length; i++) {
    const { replica } = await client.getFeature(SPREAD_POINT);
    if (replica !== undefined) seen.add(replica);
  }
  expect([...seen].sort()).toEqual([...replicas].sort());
}

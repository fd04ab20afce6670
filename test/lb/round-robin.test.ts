import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { spread } from '../../src/client/spread';
import type { TestServer } from '../helpers/server';
import { closeAll, ipv4Target, startReplicas, warmUp } from '../helpers/replicas';

describe('round robin over an ipv4: list', () => {
  let servers: TestServer[] = [];
  let client: RouteGuideClient | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await closeAll(servers);
    servers = [];
  });

  it('gives each of three replicas a third of the calls', async () => {
    servers = await startReplicas(3, { prefix: 'rr-' });
    client = createRouteGuideClient({ target: ipv4Target(servers) });
    await warmUp(client, ['rr-1', 'rr-2', 'rr-3']);

    const result = await spread(client, { calls: 300, concurrency: 10 });

    expect(result.failed).toBe(0);
    expect(Object.keys(result.replicas).sort()).toEqual(['rr-1', 'rr-2', 'rr-3']);
    for (const calls of Object.values(result.replicas)) {
      expect(calls).toBeGreaterThanOrEqual(95);
      expect(calls).toBeLessThanOrEqual(105);
    }
  });

  it('skips a replica that cannot be reached, with no failed call', async () => {
    servers = await startReplicas(2, { prefix: 'retry-' });
    // A port nobody listens on: its subchannel fails, round robin skips it.
    const dead = await startReplicas(1, { prefix: 'dead-' });
    const deadAddress = dead[0]!.address;
    await closeAll(dead);
    client = createRouteGuideClient({
      target: `ipv4:${deadAddress},${servers.map((s) => s.address).join(',')}`,
    });
    const result = await spread(client, { calls: 100, concurrency: 5 });
    expect(result).toMatchObject({ failed: 0, succeeded: 100 });
    expect(Object.keys(result.replicas).sort()).toEqual(['retry-1', 'retry-2']);
  });
});

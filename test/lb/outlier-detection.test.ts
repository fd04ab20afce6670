import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import type { LoadBalancingPolicy } from '../../src/client/service-config';
import { spread } from '../../src/client/spread';
import { startFaultyServer, type FaultyServer } from '../helpers/faulty-server';
import { loadFor } from '../helpers/load';
import { closeAll, startReplicas } from '../helpers/replicas';
import type { TestServer } from '../helpers/server';

/**
 * Two good replicas and a faulty one that answers UNAVAILABLE to nine calls in ten. The default
 * retry policy hides its failures from callers (each failed attempt is retried elsewhere), so
 * what outlier detection changes is whether the faulty replica keeps getting attempts.
 */
describe('outlier detection', () => {
  let good: TestServer[] = [];
  let faulty: FaultyServer;
  let target = '';
  const clients: RouteGuideClient[] = [];

  beforeAll(async () => {
    good = await startReplicas(2, { prefix: 'od-' });
    faulty = await startFaultyServer({ replica: 'od-faulty' });
    target = `ipv4:${faulty.address},${good.map((s) => s.address).join(',')}`;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await closeAll([...good, faulty]);
  });

  /** Attempts the faulty replica gets during 600 calls, after `warmUpMs` of load. */
  async function faultyAttempts(client: RouteGuideClient, warmUpMs: number) {
    await loadFor(client, warmUpMs);
    const before = faulty.calls();
    const result = await spread(client, { calls: 600, concurrency: 10 });
    return { attempts: faulty.calls() - before, result };
  }

  it('without it, the faulty replica keeps getting a third of the attempts', async () => {
    const client = createRouteGuideClient({ target });
    clients.push(client);
    const { attempts, result } = await faultyAttempts(client, 500);
    console.log(`round_robin: faulty attempts ${attempts}, ${JSON.stringify(result.replicas)}`);
    expect(attempts).toBeGreaterThan(150);
  });

  it.each<[LoadBalancingPolicy]>([['round_robin'], ['weighted_round_robin']])(
    'with %s under outlier detection, the faulty replica is ejected and gets no attempts',
    async (policy) => {
      const client = createRouteGuideClient({
        target,
        loadBalancing: { policy, outlierDetection: true },
      });
      clients.push(client);
      // Checks run every second; one with ≥ 20 attempts on each replica ejects the faulty one.
      const { attempts, result } = await faultyAttempts(client, 3000);
      console.log(
        `${policy} + outlier_detection: faulty attempts ${attempts}, ${JSON.stringify(result.replicas)}`,
      );
      expect(attempts).toBe(0);
      expect(result.failed).toBe(0);
      expect(Object.keys(result.replicas).sort()).toEqual(['od-1', 'od-2']);
    },
    30_000,
  );
});

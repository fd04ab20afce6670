import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { spread } from '../../src/client/spread';
import { describeSpread, loadFor, share, startProcessReplicas } from '../helpers/load';
import { killAll, type ServerProcess } from '../helpers/process';
import { warmUp } from '../helpers/replicas';

/**
 * Three server processes on loopback; wrr-1 has a test-only CPU burner preloaded that keeps its
 * main thread busy 80% of the time (its calls wait, and its ORCA reports show the CPU it uses).
 * Each process measures its own CPU, so the replicas must be separate processes.
 */
describe('weighted round robin (ORCA load reports) with one slow replica', () => {
  let processes: ServerProcess[] = [];
  let target = '';
  const clients: RouteGuideClient[] = [];

  beforeAll(async () => {
    ({ processes, target } = await startProcessReplicas(3, { prefix: 'wrr-', slow: 1 }));
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await killAll(processes);
  });

  it('round robin gives the slow replica a third of the calls', async () => {
    const client = createRouteGuideClient({ target });
    clients.push(client);
    await warmUp(client, ['wrr-1', 'wrr-2', 'wrr-3']);
    const result = await spread(client, { calls: 900, concurrency: 10 });
    console.log(describeSpread('round_robin', result, 'wrr-1'));
    expect(result.failed).toBe(0);
    expect(share(result, 'wrr-1')).toBeGreaterThan(0.28);
    expect(share(result, 'wrr-1')).toBeLessThan(0.39);
  }, 60_000);

  it('weighted round robin gives it under a fifth once the weights are in', async () => {
    const client = createRouteGuideClient({
      target,
      loadBalancing: { policy: 'weighted_round_robin' },
    });
    clients.push(client);
    // First report after ~1 s of traffic, 1 s blackout, picker rebuilt every 0.5 s: 5 s is ample.
    await loadFor(client, 5000);
    const result = await spread(client, { calls: 900, concurrency: 10 });
    console.log(describeSpread('weighted_round_robin', result, 'wrr-1'));
    expect(result.failed).toBe(0);
    expect(share(result, 'wrr-1')).toBeLessThan(0.2);
    // The other two still share the rest about evenly.
    expect(share(result, 'wrr-2')).toBeGreaterThan(0.25);
    expect(share(result, 'wrr-3')).toBeGreaterThan(0.25);
  }, 60_000);
});

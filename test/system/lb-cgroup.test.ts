import type { SpreadResult } from '../../src/client/spread';
import { createCpuQuotaCgroup, type CpuQuotaCgroup } from '../helpers/cgroup';
import { cli } from '../helpers/cli';
import { describeSpread, share } from '../helpers/load';
import { killAll, servingPort, spawnServer, type ServerProcess } from '../helpers/process';

/** CPUs the throttled replica may use: 10 ms of CPU time per 100 ms period. */
const QUOTA_CPUS = 0.1;
/**
 * How long the throttled replica may take to start. Starting a server costs 0.6–1.4 s of CPU
 * (loading modules and descriptors): it took 28 s at a 5% quota (CI once gave up at 30 s) and
 * 6–8 s at 10%, more on a loaded machine.
 */
const THROTTLED_START_MS = 150_000;

/**
 * `routeguide spread --lb …` (the built CLI) against three server processes on loopback, one of
 * them in a cgroup with a CPU quota of 10% of a core. Needs root and a cgroup v1 cpu controller
 * or cgroup v2; fails (never skips) when it cannot set the cgroup up.
 */
describe('weighted round robin against a replica throttled by a cgroup CPU quota', () => {
  let cgroup: CpuQuotaCgroup | undefined;
  let processes: ServerProcess[] = [];
  let target = '';

  beforeAll(async () => {
    cgroup = createCpuQuotaCgroup(QUOTA_CPUS, `routeguide-test-${process.pid}`);
    processes = [1, 2, 3].map((i) => spawnServer({ REPLICA_ID: `cg-${i}`, METRICS: 'false' }));
    cgroup.add(processes[0]!.child.pid!);
    const started = Date.now();
    const ports = await Promise.all(
      processes.map((p, i) => servingPort(p, i === 0 ? THROTTLED_START_MS : 30_000)),
    );
    console.log(`throttled replica serving after ${Date.now() - started} ms`);
    target = `ipv4:${ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
  }, THROTTLED_START_MS + 10_000);

  afterAll(async () => {
    await killAll(processes);
    cgroup?.remove();
  });

  async function run(lb: string): Promise<SpreadResult> {
    const result = await cli([
      ...['spread', '--json', '--target', target, '--lb', lb],
      ...['--warmup', '4000', '--calls', '1500', '--concurrency', '10'],
    ]);
    if (result.code !== 0) throw new Error(`spread --lb ${lb}: ${result.stderr}`);
    return JSON.parse(result.stdout) as SpreadResult;
  }

  it('round robin gives it a third of the calls; weighted round robin under a fifth', async () => {
    const roundRobin = await run('round_robin');
    const weighted = await run('weighted_round_robin');
    console.log(
      `${describeSpread('round_robin', roundRobin, 'cg-1')}\n${describeSpread('weighted_round_robin', weighted, 'cg-1')}`,
    );
    expect(roundRobin.failed).toBe(0);
    expect(weighted.failed).toBe(0);
    expect(share(roundRobin, 'cg-1')).toBeGreaterThan(0.28);
    expect(share(weighted, 'cg-1')).toBeLessThan(0.2);
  }, 90_000);
});

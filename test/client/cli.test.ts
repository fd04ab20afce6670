import { createLogger } from '../../src/observability/logging';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { RouteGuideApp } from '../../src/server';
import { cli } from '../helpers/cli';
import { canonicalFeatures, featuresInBox } from '../helpers/canonical';
import { closeAll, ipv4Target, startReplicas } from '../helpers/replicas';
import { testConfig, type TestServer } from '../helpers/server';

jest.setTimeout(60_000);

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/** A RouteGuide server; the app serves grpc.health.v1 for "" and routeguide.RouteGuide. */
async function startHealthServer(): Promise<{
  address: string;
  app: RouteGuideApp;
  close(): Promise<void>;
}> {
  const config = testConfig({ REPLICA_ID: 'healthy' });
  const app = new RouteGuideApp({
    config,
    logger: createLogger('silent'),
    features: loadFeatureDatabase(config.featuresFile),
  });
  const port = await app.listen();
  return { address: `127.0.0.1:${port}`, app, close: () => app.shutdown(1000) };
}

describe('routeguide CLI', () => {
  let servers: TestServer[] = [];
  let one: string;

  beforeAll(async () => {
    servers = await startReplicas(3, { prefix: 'cli-' });
    one = servers[0]!.address;
  });
  afterAll(() => closeAll(servers));

  it('get: prints the feature and the replica, or JSON', async () => {
    const human = await cli(['get', '40.7838351', '-74.6143763', '--target', one]);
    expect(human).toEqual({
      code: 0,
      stdout: 'Patriots Path, Mendham, NJ 07945, USA at 40.7838351, -74.6143763 [replica cli-1]\n',
      stderr: '',
    });
    const json = await cli(['--json', '--target', one, 'get', '407838351', '-746143763']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      feature: {
        name: 'Patriots Path, Mendham, NJ 07945, USA',
        location: { latitude: 407838351, longitude: -746143763 },
      },
      replica: 'cli-1',
    });
  });

  it('list: streams the features of a rectangle', async () => {
    const lo = { latitude: 405000000, longitude: -745000000 };
    const hi = { latitude: 410000000, longitude: -740000000 };
    const expected = featuresInBox(canonicalFeatures(), lo, hi);
    const args = ['list', '--lo', '40.5,-74.5', '--hi', '41,-74', '--target', one];
    const json = await cli([...args, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      features: expected,
      count: expected.length,
      replica: 'cli-1',
    });
    const human = await cli(args);
    expect(human.code).toBe(0);
    const out = lines(human.stdout);
    expect(out).toHaveLength(expected.length + 1);
    expect(out.at(-1)).toBe(`${expected.length} features [replica cli-1]`);
  });

  it('record: sends given or random database points', async () => {
    const given = await cli([
      ...['record', '--json', '--target', one],
      ...['--point', '40.7838351,-74.6143763', '--point', '40.7838351,-74.6143763'],
    ]);
    expect(given.code).toBe(0);
    expect(JSON.parse(given.stdout)).toMatchObject({
      summary: { point_count: 2, feature_count: 2, distance: 0 },
      replica: 'cli-1',
    });
    const random = await cli(['record', '--points', '7', '--target', one]);
    expect(random.code).toBe(0);
    // Random points come from the database, so each is a feature location.
    expect(random.stdout).toMatch(/^7 points, 7 features, \d+ m, \d+ s \[replica cli-1\]\n$/);
  });

  it('chat: prints the earlier notes the server sends back', async () => {
    const result = await cli([
      ...['chat', '--json', '--target', servers[1]!.address],
      ...['--note', '1,1=hello', '--note', '2,2=elsewhere', '--note', '1,1=again'],
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      received: [{ location: { latitude: 10000000, longitude: 10000000 }, message: 'hello' }],
      replica: 'cli-2',
    });
  });

  it('spread: a table of calls per replica, round robin over three', async () => {
    const result = await cli(['spread', '--target', ipv4Target(servers), '--calls', '300']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    for (const replica of ['cli-1', 'cli-2', 'cli-3']) {
      expect(result.stdout).toMatch(
        new RegExp(`│ ${replica} +│ +\\d+ │ +[\\d.]+% │ +[\\d.]+ │ +[\\d.]+ │`),
      );
    }
    expect(result.stdout).toMatch(
      /300 calls to ipv4:.* \(round_robin\): 300 ok, 0 failed, 3 replicas, \d+ ms, latency p50 [\d.]+ ms, p99 [\d.]+ ms/,
    );
  });

  it('spread --json: per-replica counts for scripts', async () => {
    const result = await cli([
      ...['spread', '--json', '--target', ipv4Target(servers)],
      ...['--calls', '300', '--concurrency', '1'],
    ]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      calls: number;
      failed: number;
      replicas: Record<string, number>;
      latencyMs: { p50: number; p99: number };
      replicaLatencyMs: Record<string, { p50: number; p99: number }>;
    };
    expect(report).toMatchObject({ calls: 300, failed: 0, succeeded: 300, lb: 'round_robin' });
    expect(Object.keys(report.replicas)).toEqual(['cli-1', 'cli-2', 'cli-3']);
    expect(Object.keys(report.replicaLatencyMs)).toEqual(['cli-1', 'cli-2', 'cli-3']);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
    // A fresh channel sends its first calls to whichever replica connected first.
    for (const calls of Object.values(report.replicas)) {
      expect(calls).toBeGreaterThanOrEqual(75);
      expect(calls).toBeLessThanOrEqual(125);
    }
  });

  it('spread: exits 1 with one line when calls fail', async () => {
    const dead = await startReplicas(1);
    await closeAll(dead);
    const result = await cli([
      ...['spread', '--json', '--target', dead[0]!.address],
      ...['--calls', '5', '--deadline', '5000'],
    ]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ calls: 5, failed: 5, succeeded: 0 });
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^routeguide spread: 5 of 5 calls failed \(UNAVAILABLE: /);
  });

  it('fails with exit 1 and one line when the server is unreachable', async () => {
    const dead = await startReplicas(1);
    await closeAll(dead);
    const result = await cli(['get', '1', '2', '--target', dead[0]!.address]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^routeguide get: UNAVAILABLE: /);
  });

  it('exits 2 with one line on bad usage', async () => {
    const result = await cli(['get', 'north', '2']);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      `error: command-argument value 'north' is invalid for argument 'lat'. latitude "north" is not a number`,
    ]);
    expect((await cli(['spread', '--calls', '0'])).code).toBe(2);
    expect((await cli(['spread', '--lb', 'least_request'])).code).toBe(2);
    expect((await cli(['nonsense'])).code).toBe(2);
  });

  it('says what to set when an xds: target has no bootstrap', async () => {
    const result = await cli(['get', '1', '2', '--target', 'xds:///routeguide']);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/GRPC_XDS_BOOTSTRAP.*GRPC_XDS_BOOTSTRAP_CONFIG/);
  });

  it('health: SERVING exits 0; anything else exits 1', async () => {
    const healthy = await startHealthServer();
    try {
      expect(await cli(['health', '--target', healthy.address])).toEqual({
        code: 0,
        stdout: 'SERVING [replica healthy]\n',
        stderr: '',
      });
      const json = await cli(['health', '--json', '--target', healthy.address]);
      expect(JSON.parse(json.stdout)).toEqual({
        service: '',
        status: 'SERVING',
        replica: 'healthy',
      });
      healthy.app.health.setServing(false); // as during shutdown
      const sleeping = await cli([
        ...['health', '--service', 'routeguide.RouteGuide', '--target', healthy.address],
      ]);
      expect(sleeping.code).toBe(1);
      expect(sleeping.stdout).toBe('NOT_SERVING [replica healthy]\n');
      expect(sleeping.stderr).toBe('routeguide health: NOT_SERVING\n');
      const unknown = await cli(['health', '--service', 'nope', '--target', healthy.address]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^routeguide health: NOT_FOUND: /);
    } finally {
      await healthy.close();
    }
  });
});

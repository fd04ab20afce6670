import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../../src/observability/logging';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { RouteGuideApp } from '../../src/server';
import { eventually, getFeature } from '../helpers/calls';
import { check, healthClient, type HealthClient } from '../helpers/ops';
import { startTestServer, testConfig, type TestServer } from '../helpers/server';

const SERVICES = ['', 'routeguide.RouteGuide'];

describe('grpc.health.v1.Health', () => {
  let server: TestServer | undefined;
  let health: HealthClient | undefined;

  afterEach(async () => {
    health?.close();
    await server?.close();
    server = undefined;
    health = undefined;
  });

  it('is NOT_SERVING until the port is bound, SERVING after', async () => {
    const config = testConfig();
    const app = new RouteGuideApp({
      config,
      logger: createLogger('silent'),
      features: loadFeatureDatabase(config.featuresFile),
    });
    expect(app.health.status).toBe('NOT_SERVING');
    const port = await app.listen();
    health = healthClient(`127.0.0.1:${port}`);
    try {
      for (const name of SERVICES) expect(await check(health, name)).toBe('SERVING');
    } finally {
      await app.shutdown(1000);
    }
  });

  it('answers Check for "" and routeguide.RouteGuide, NOT_FOUND for any other name', async () => {
    server = await startTestServer();
    health = healthClient(server.address);
    for (const name of SERVICES) expect(await check(health, name)).toBe('SERVING');
    await expect(check(health, 'routeguide.Nope')).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });

  it('lists both names', async () => {
    server = await startTestServer();
    health = healthClient(server.address);
    const statuses = await new Promise<Record<string, { status: string }>>((resolve, reject) =>
      health!.list({}, (error, response) => (error ? reject(error) : resolve(response!.statuses))),
    );
    expect(statuses).toEqual({
      '': { status: 'SERVING' },
      'routeguide.RouteGuide': { status: 'SERVING' },
    });
  });

  it('Watch sees SERVING, then NOT_SERVING first thing on shutdown, while calls still work during the delay; then the watch ends', async () => {
    server = await startTestServer({ env: { SHUTDOWN_DELAY_MS: '1500' } });
    health = healthClient(server.address);
    const seen: Record<string, string[]> = { '': [], 'routeguide.RouteGuide': [] };
    const ended = SERVICES.map((name) => {
      const call = health!.watch({ service: name });
      call.on('data', ({ status }: { status: string }) => seen[name]!.push(status));
      return new Promise<void>((resolve, reject) => {
        call.on('end', resolve);
        call.on('error', reject);
      });
    });
    const unknown: string[] = [];
    const unknownWatch = health.watch({ service: 'other' });
    unknownWatch.on('data', ({ status }: { status: string }) => unknown.push(status));
    unknownWatch.on('error', () => undefined);

    await eventually(() => SERVICES.every((name) => seen[name]!.length === 1), 10_000, 'SERVING');
    expect(seen).toEqual({ '': ['SERVING'], 'routeguide.RouteGuide': ['SERVING'] });

    // A long grace period: open watches must not hold shutdown up.
    const stopped = server.app.shutdown(60_000);
    await eventually(
      () => SERVICES.every((name) => seen[name]!.length === 2),
      10_000,
      'NOT_SERVING',
    );
    expect(seen).toEqual({
      '': ['SERVING', 'NOT_SERVING'],
      'routeguide.RouteGuide': ['SERVING', 'NOT_SERVING'],
    });
    // During SHUTDOWN_DELAY_MS the server still answers (load balancers are catching up).
    expect(await check(health, '')).toBe('NOT_SERVING');
    const feature = await getFeature(server.client, { latitude: 409146138, longitude: -746188906 });
    expect(feature.name).not.toBe('');
    await stopped;
    // Draining ended every watch with OK once the delay was over.
    await Promise.all(ended);
    expect(seen['']).toEqual(['SERVING', 'NOT_SERVING']);
    expect(unknown).toEqual(['SERVICE_UNKNOWN']);
  });
});

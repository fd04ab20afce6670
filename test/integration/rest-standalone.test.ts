import { StandaloneGateway } from '../../src/standalone-gateway';
import { createLogger } from '../../src/observability/logging';
import { httpRequest, ndjson } from '../helpers/rest';
import { startTestServer, testConfig, type TestServer } from '../helpers/server';

describe('standalone gateway in front of a gRPC target', () => {
  let server: TestServer;
  let gateway: StandaloneGateway;
  let url: string;
  beforeAll(async () => {
    server = await startTestServer({ env: { AUTH_TOKEN: 'sesame', REST: 'false' } });
    gateway = new StandaloneGateway({
      config: testConfig({ GATEWAY_TARGET: server.address }),
      logger: createLogger('silent'),
    });
    url = `http://127.0.0.1:${await gateway.listen()}`;
  });
  afterAll(async () => {
    await gateway.shutdown(500);
    await server.close();
  });

  const auth = { authorization: 'Bearer sesame' };

  it('forwards Authorization: 401 with a challenge without it, the feature with it', async () => {
    const refused = await fetch(`${url}/v1/features/409146138/-746188906`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    const ok = await fetch(`${url}/v1/features/409146138/-746188906`, { headers: auth });
    expect(ok.status).toBe(200);
    // The replica that answered, from the target's response headers.
    expect(ok.headers.get('grpc-metadata-x-routeguide-replica')).toBe('test-replica');
    expect(await ok.json()).toMatchObject({ location: { latitude: 409146138 } });
  });

  it('streams ListFeatures, RecordRoute and RouteChat through the target', async () => {
    const list = await httpRequest(
      `${url}/v1/features?lo.latitude=400000000&lo.longitude=-750000000&hi.latitude=420000000&hi.longitude=-730000000`,
      { headers: auth },
    );
    expect(ndjson(list.body).length).toBeGreaterThan(10);
    const route = await fetch(`${url}/v1/routes`, {
      method: 'POST',
      headers: auth,
      body: '{"latitude":407838351,"longitude":-746143763}\n{"latitude":408122808,"longitude":-743999179}\n',
    });
    expect(await route.json()).toMatchObject({ pointCount: 2, featureCount: 2 });
    const chat = await httpRequest(`${url}/v1/notes:chat`, {
      method: 'POST',
      headers: auth,
      body: '[{"location":{"latitude":5,"longitude":5},"message":"a"},{"location":{"latitude":5,"longitude":5},"message":"b"}]',
    });
    expect(ndjson(chat.body)).toEqual([
      { result: { location: { latitude: 5, longitude: 5 }, message: 'a' } },
    ]);
    const bad = await fetch(`${url}/v1/features/950000000/0`, { headers: auth });
    expect(bad.status).toBe(400);
    // Counted in the gateway's own series too.
    let handled = 0;
    for (const m of gateway.calls.all()) handled += m.handledCount;
    expect(handled).toBeGreaterThanOrEqual(5);
  });

  it("exports its calls on METRICS_PORT in the server's series", async () => {
    expect(gateway.metricsPort).toBeGreaterThan(0);
    const scrape = async () =>
      (await fetch(`http://127.0.0.1:${gateway.metricsPort!}/metrics`)).text();
    const labels =
      'grpc_type="unary",grpc_service="routeguide.RouteGuide",grpc_method="GetFeature"';
    const count = (text: string, code: string) =>
      Number(
        new RegExp(
          `^grpc_server_handled_total\\{${labels},grpc_code="${code}"\\} (\\d+)$`,
          'm',
        ).exec(text)?.[1] ?? 0,
      );
    const before = await scrape();
    expect((await fetch(`${url}/v1/features/1/2`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${url}/v1/features/1/2`)).status).toBe(401);
    const after = await scrape();
    expect(count(after, 'OK') - count(before, 'OK')).toBe(1);
    expect(count(after, 'Unauthenticated') - count(before, 'Unauthenticated')).toBe(1);
    expect(after).toMatch(new RegExp(`^grpc_server_started_total\\{${labels}\\} \\d+$`, 'm'));
    expect(after).toMatch(
      new RegExp(`^grpc_server_handling_seconds_count\\{${labels}\\} \\d+$`, 'm'),
    );
    expect(after).toMatch(/^routeguide_connections_open\{port="rest"\} \d+$/m);
    expect(after).toMatch(/^routeguide_calls_refused_total\{reason="process_limit"\} 0$/m);
    expect(after).toContain('process_resident_memory_bytes');
    // Nothing of the server's own state: the gateway has no features or notes.
    expect(after).not.toContain('routeguide_features_loaded');
  });

  it('METRICS=false: no registry, no port', async () => {
    const quiet = new StandaloneGateway({
      config: testConfig({ GATEWAY_TARGET: server.address, METRICS: 'false' }),
      logger: createLogger('silent'),
    });
    await quiet.listen();
    expect(quiet.metrics).toBeUndefined();
    expect(quiet.metricsPort).toBeUndefined();
    await quiet.shutdown(100);
  });

  it('/healthz reports the target health', async () => {
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${url}/healthz`);
      if (r.status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('never SERVING');
  });
});

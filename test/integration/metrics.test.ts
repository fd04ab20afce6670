import * as grpc from '@grpc/grpc-js';
import { getFeature, listFeatures, recordRoute, routeChat } from '../helpers/calls';
import { canonicalFeatures, featuresInBox } from '../helpers/canonical';
import { check, healthClient, httpGet, scrape } from '../helpers/ops';
import { countingDatabase, syntheticFeatures } from '../helpers/features';
import { connect, frame, openRawStream } from '../helpers/raw-grpc';
import { startTestServer, type TestServer } from '../helpers/server';

const GET_FEATURE = {
  grpc_type: 'unary',
  grpc_service: 'routeguide.RouteGuide',
  grpc_method: 'GetFeature',
};
const RECORD_ROUTE = {
  grpc_type: 'client_stream',
  grpc_service: 'routeguide.RouteGuide',
  grpc_method: 'RecordRoute',
};
const RECORD_ROUTE_PATH = '/routeguide.RouteGuide/RecordRoute';
const LIST_FEATURES = {
  grpc_type: 'server_stream',
  grpc_service: 'routeguide.RouteGuide',
  grpc_method: 'ListFeatures',
};

describe('Prometheus metrics', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const metricsPort = (): number => server!.app.metricsPort!;

  it('counts 10 OK and 5 INVALID_ARGUMENT GetFeature and a client-cancelled ListFeatures exactly', async () => {
    // A database large enough that ListFeatures is still streaming when the client cancels.
    const { db: features, produced: written } = countingDatabase(
      syntheticFeatures(50_000, undefined, true),
    );
    server = await startTestServer({ features });
    const client = server.client;

    for (let i = 0; i < 10; i++) await getFeature(client, { latitude: i, longitude: i });
    for (let i = 0; i < 5; i++) {
      await expect(
        getFeature(client, { latitude: 900_000_001 + i, longitude: 0 }),
      ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    }

    const call = client.ListFeatures({
      lo: { latitude: 0, longitude: 0 },
      hi: { latitude: 50_000, longitude: 50_000 },
    });
    let received = 0;
    const outcome = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    call.on('data', () => {
      if (++received === 1) call.cancel();
    });
    expect((await outcome).code).toBe(grpc.status.CANCELLED);

    let m = await scrape(metricsPort());
    const deadline = Date.now() + 10_000;
    while (m.value('grpc_server_handled_total', LIST_FEATURES) === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      m = await scrape(metricsPort());
    }

    expect(m.value('grpc_server_started_total', GET_FEATURE)).toBe(15);
    expect(m.value('grpc_server_handled_total', GET_FEATURE)).toBe(15);
    expect(m.value('grpc_server_handled_total', { ...GET_FEATURE, grpc_code: 'OK' })).toBe(10);
    expect(
      m.value('grpc_server_handled_total', { ...GET_FEATURE, grpc_code: 'InvalidArgument' }),
    ).toBe(5);
    expect(m.value('grpc_server_msg_received_total', GET_FEATURE)).toBe(15);
    expect(m.value('grpc_server_msg_sent_total', GET_FEATURE)).toBe(10);
    expect(m.value('grpc_server_handling_seconds_count', GET_FEATURE)).toBe(15);

    expect(m.value('grpc_server_started_total', LIST_FEATURES)).toBe(1);
    expect(m.value('grpc_server_handled_total', LIST_FEATURES)).toBe(1);
    expect(m.value('grpc_server_handled_total', { ...LIST_FEATURES, grpc_code: 'Canceled' })).toBe(
      1,
    );
    expect(m.value('grpc_server_msg_received_total', LIST_FEATURES)).toBe(1);
    expect(m.value('grpc_server_handling_seconds_count', LIST_FEATURES)).toBe(1);
    // Sent: at least what the client saw, at most what the handler produced (a few may still
    // sit in the call's write buffer when the cancel lands), and far from everything.
    const sent = m.value('grpc_server_msg_sent_total', LIST_FEATURES);
    expect(sent).toBeGreaterThanOrEqual(received);
    expect(sent).toBeLessThanOrEqual(written());
    expect(written()).toBeLessThan(50_000);

    // Nothing else was counted: only these two methods appear, with no other codes.
    const handled = m.samples.filter((s) => s.name === 'grpc_server_handled_total');
    expect(
      handled.map((s) => [s.labels['grpc_method'], s.labels['grpc_code'], s.value]).sort(),
    ).toEqual([
      ['GetFeature', 'InvalidArgument', 5],
      ['GetFeature', 'OK', 10],
      ['ListFeatures', 'Canceled', 1],
    ]);
  });

  it('adds exactly N to msg_sent for a ListFeatures that streams N features, and labels every RPC type', async () => {
    server = await startTestServer();
    const lo = { latitude: 400_000_000, longitude: -750_000_000 };
    const hi = { latitude: 420_000_000, longitude: -730_000_000 };
    const expected = featuresInBox(canonicalFeatures(), lo, hi).length;
    expect(expected).toBeGreaterThan(10);

    const before = await scrape(metricsPort());
    expect(before.value('grpc_server_msg_sent_total', LIST_FEATURES)).toBe(0);
    expect(await listFeatures(server.client, { lo, hi })).toHaveLength(expected);
    const points = [
      { latitude: 407838351, longitude: -746143763 },
      { latitude: 408122808, longitude: -743999179 },
      { latitude: 413628156, longitude: -749015468 },
    ];
    await recordRoute(server.client, points);
    const location = { latitude: 1, longitude: 2 };
    await routeChat(server.client, [
      { location, message: 'a' },
      { location, message: 'b' },
    ]);

    const m = await scrape(metricsPort());
    expect(m.value('grpc_server_msg_sent_total', LIST_FEATURES)).toBe(expected);
    expect(m.value('grpc_server_msg_received_total', LIST_FEATURES)).toBe(1);
    expect(m.value('grpc_server_handled_total', { ...LIST_FEATURES, grpc_code: 'OK' })).toBe(1);

    const record = { grpc_type: 'client_stream', grpc_method: 'RecordRoute' };
    expect(m.value('grpc_server_msg_received_total', record)).toBe(3);
    expect(m.value('grpc_server_msg_sent_total', record)).toBe(1);
    expect(m.value('grpc_server_handled_total', { ...record, grpc_code: 'OK' })).toBe(1);

    const chat = { grpc_type: 'bidi_stream', grpc_method: 'RouteChat' };
    expect(m.value('grpc_server_msg_received_total', chat)).toBe(2);
    expect(m.value('grpc_server_msg_sent_total', chat)).toBe(1); // "b" gets "a" back
    expect(m.value('grpc_server_handled_total', { ...chat, grpc_code: 'OK' })).toBe(1);

    // Histogram buckets are cumulative and end in +Inf == count.
    const buckets = m.samples.filter(
      (s) =>
        s.name === 'grpc_server_handling_seconds_bucket' && s.labels['grpc_method'] === 'RouteChat',
    );
    expect(buckets.at(-1)!.labels['le']).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(1);
    expect(buckets.some((s) => 'grpc_code' in s.labels)).toBe(false);

    // Domain gauges.
    expect(m.value('routeguide_features_loaded')).toBe(100);
    expect(m.value('routeguide_notes_stored')).toBe(2);
    // prom-client's default process metrics.
    expect(m.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('records DeadlineExceeded, Unauthenticated and calls of other services', async () => {
    server = await startTestServer({ env: { AUTH_TOKEN: 'sekret' } });
    // A RecordRoute that never half-closes, from a raw client: unlike grpc-js, it does not
    // cancel at its deadline, so the server's own deadline ends the call, every time.
    const session = await connect(server.address);
    const { status } = openRawStream(
      session,
      RECORD_ROUTE_PATH,
      frame(Buffer.from('08011002', 'hex')),
      {
        headers: { authorization: 'Bearer sekret', 'grpc-timeout': '300m' },
        halfClose: false,
      },
    );
    expect(await status).toBe(grpc.status.DEADLINE_EXCEEDED);
    session.destroy();

    await expect(getFeature(server.client, { latitude: 1, longitude: 1 })).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    const health = healthClient(server.address);
    expect(await check(health, '')).toBe('SERVING');
    health.close();

    let m = await scrape(metricsPort());
    const until = Date.now() + 10_000;
    while (m.value('grpc_server_handled_total', RECORD_ROUTE) === 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      m = await scrape(metricsPort());
    }
    expect(
      m.value('grpc_server_handled_total', { ...RECORD_ROUTE, grpc_code: 'DeadlineExceeded' }),
    ).toBe(1);
    expect(m.value('grpc_server_handled_total', RECORD_ROUTE)).toBe(1);
    expect(m.value('grpc_server_msg_received_total', RECORD_ROUTE)).toBe(1);
    expect(m.value('grpc_server_started_total', GET_FEATURE)).toBe(1);
    expect(
      m.value('grpc_server_handled_total', { ...GET_FEATURE, grpc_code: 'Unauthenticated' }),
    ).toBe(1);
    expect(m.value('grpc_server_msg_received_total', GET_FEATURE)).toBe(0);
    expect(
      m.value('grpc_server_handled_total', {
        grpc_type: 'unary',
        grpc_service: 'grpc.health.v1.Health',
        grpc_method: 'Check',
        grpc_code: 'OK',
      }),
    ).toBe(1);
  });

  it('serves only /metrics', async () => {
    server = await startTestServer();
    expect((await httpGet(metricsPort(), '/')).status).toBe(404);
    expect((await httpGet(metricsPort(), '/metrics?x=1')).status).toBe(200);
  });

  it('METRICS=false: no registry, no interceptor, no metrics port', async () => {
    server = await startTestServer({ env: { METRICS: 'false' } });
    expect(server.app.metrics).toBeUndefined();
    expect(server.app.metricsPort).toBeUndefined();
    const feature = await getFeature(server.client, { latitude: 409146138, longitude: -746188906 });
    expect(feature.name).not.toBe('');
  });
});

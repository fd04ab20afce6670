import * as grpc from '@grpc/grpc-js';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { defaultServiceConfig } from '../../src/client/service-config';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { eventually, getFeature, listFeatures, openChat } from '../helpers/calls';
import { check, healthClient, scrape } from '../helpers/ops';
import { connect, encodePoint, frame, openRawStream } from '../helpers/raw-grpc';
import { orcaClient } from '../helpers/orca';
import { startTestServer, type TestServer } from '../helpers/server';

const BERKSHIRE = { latitude: 409146138, longitude: -746188906 };
const EVERYWHERE = {
  lo: { latitude: -900000000, longitude: -1800000000 },
  hi: { latitude: 900000000, longitude: 1800000000 },
};

/** A client on its own connection (grpc-js shares subchannels between clients otherwise). */
function ownClient(address: string, options: grpc.ChannelOptions = {}): RouteGuideClient {
  const { proto } = loadRouteGuideProto();
  return new proto.routeguide.RouteGuide(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    ...options,
  });
}

/** Opens a RouteChat and resolves with how it ended (the error, or undefined when it ended OK). */
function chatOutcome(client: RouteGuideClient) {
  const chat = openChat(client);
  const ended = chat.done.then(
    () => undefined,
    (error: grpc.ServiceError) => error,
  );
  return { chat, ended };
}

describe('admission control of streaming calls', () => {
  let server: TestServer | undefined;
  const clients: grpc.Client[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    server = undefined;
  });

  it('refuses over the per-connection quota (RESOURCE_EXHAUSTED) and the process limit (UNAVAILABLE), with pushback; health, ORCA and GetFeature still work', async () => {
    server = await startTestServer({
      env: {
        MAX_STREAMING_CALLS_PER_CONNECTION: '2',
        MAX_STREAMING_CALLS: '3',
        RETRY_PUSHBACK_MS: '400',
      },
    });
    const { app, address } = server;
    const a = ownClient(address);
    const b = ownClient(address);
    clients.push(a, b);
    const held = [chatOutcome(a), chatOutcome(a)];
    await eventually(() => app.admission.active === 2, 10_000, 'two chats admitted');

    const overQuota = await chatOutcome(a).ended;
    expect(overQuota?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(overQuota?.metadata.get('grpc-retry-pushback-ms')).toEqual(['400']);
    expect(overQuota?.metadata.get('x-routeguide-replica')).toEqual(['test-replica']);

    held.push(chatOutcome(b));
    await eventually(() => app.admission.active === 3, 10_000, 'a third chat admitted');
    const overLimit = await chatOutcome(b).ended;
    expect(overLimit?.code).toBe(grpc.status.UNAVAILABLE);
    expect(overLimit?.details).toMatch(/try another replica/);
    expect(overLimit?.metadata.get('grpc-retry-pushback-ms')).toEqual(['400']);
    await expect(listFeatures(b, EVERYWHERE)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });

    // At the limit: unary calls, health (Check and Watch) and ORCA are neither counted nor refused.
    expect((await getFeature(a, BERKSHIRE)).name).not.toBe('');
    expect((await getFeature(b, BERKSHIRE)).name).not.toBe('');
    const health = healthClient(address);
    const orca = orcaClient(address);
    clients.push(health, orca);
    expect(await check(health, '')).toBe('SERVING');
    const watch = health.watch({ service: '' });
    await new Promise((resolve, reject) => watch.once('data', resolve).once('error', reject));
    const reports = orca.StreamCoreMetrics({ report_interval: { seconds: 1, nanos: 0 } });
    reports.on('error', () => undefined);
    app.orca!.sample();
    await new Promise((resolve) => setTimeout(resolve, 50));
    app.orca!.sample();
    const report = new Promise((resolve) => reports.once('data', resolve));
    await expect(report).resolves.toBeDefined();
    watch.cancel();
    reports.cancel();

    const m = await scrape(app.metricsPort!);
    expect(m.value('routeguide_calls_refused_total', { reason: 'per_connection' })).toBe(1);
    expect(m.value('routeguide_calls_refused_total', { reason: 'process_limit' })).toBe(2);
    expect(m.value('routeguide_calls_refused_total', { reason: 'memory' })).toBe(0);
    expect(m.value('routeguide_streaming_calls')).toBe(3);
    expect(
      m.value('grpc_server_handled_total', {
        grpc_method: 'RouteChat',
        grpc_code: 'ResourceExhausted',
      }),
    ).toBe(1);
    expect(
      m.value('grpc_server_handled_total', { grpc_method: 'RouteChat', grpc_code: 'Unavailable' }),
    ).toBe(1);

    // Ended streams give their slots back.
    for (const { chat } of held) chat.call.end();
    await Promise.all(held.map(({ ended }) => ended));
    await eventually(() => app.admission.active === 0, 10_000, 'slots released');
    expect(await listFeatures(a, EVERYWHERE)).toHaveLength(100);
  });

  it('resets a refused call that is still sending (RST_STREAM after its status): the server stops reading it', async () => {
    server = await startTestServer({ env: { MAX_STREAMING_CALLS: '1' } });
    const { app, address } = server;
    const holder = ownClient(address);
    clients.push(holder);
    const held = chatOutcome(holder);
    await eventually(() => app.admission.active === 1, 10_000, 'one chat admitted');

    const session = await connect(address);
    try {
      // A RecordRoute that never half-closes and sends as long as the server reads.
      const point = frame(Buffer.from(encodePoint({ latitude: 1, longitude: 1 })));
      const chunk = Buffer.concat(Array.from({ length: 1000 }, () => point));
      const { stream, status } = openRawStream(
        session,
        '/routeguide.RouteGuide/RecordRoute',
        chunk,
        {
          halfClose: false,
        },
      );
      const closed = new Promise<number>((resolve) =>
        stream.once('close', () => resolve(stream.rstCode ?? -1)),
      );
      let sent = chunk.length;
      const pump = (): void => {
        while (!stream.destroyed && sent < 64 * 1024 * 1024 && stream.write(chunk))
          sent += chunk.length;
      };
      stream.on('drain', () => {
        sent += chunk.length;
        pump();
      });
      pump();
      expect(await status).toBe(grpc.status.UNAVAILABLE);
      expect(await closed).toBe(8); // NGHTTP2_CANCEL
      // What got through before the reset: the stream's flow-control window, not 64 MiB.
      expect(sent).toBeLessThan(1024 * 1024);
    } finally {
      session.destroy();
    }
    held.chat.call.end();
    await held.ended;
  });

  it('a refused call is retried after the pushback, and retry throttling stops a storm', async () => {
    server = await startTestServer({
      env: { MAX_STREAMING_CALLS: '1', RETRY_PUSHBACK_MS: '300' },
    });
    const { app, address } = server;
    const holder = ownClient(address);
    clients.push(holder);
    const held = chatOutcome(holder);
    await eventually(() => app.admission.active === 1, 10_000, 'the only slot taken');

    // Without throttling: every attempt is made, each after the pushback (not the 50 ms backoff).
    const config = defaultServiceConfig();
    const unthrottled = ownClient(address, {
      'grpc.service_config': JSON.stringify({ ...config, retryThrottling: undefined }),
    });
    clients.push(unthrottled);
    const started = Date.now();
    await expect(listFeatures(unthrottled, EVERYWHERE)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect(app.admission.refused.process_limit).toBe(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 300 - 20);

    // With the shipped config: 60 calls refused at once make 60 attempts and few retries.
    const client = ownClient(address, { 'grpc.service_config': JSON.stringify(config) });
    clients.push(client);
    const calls = 60;
    const outcomes = await Promise.allSettled(
      Array.from({ length: calls }, () => listFeatures(client, EVERYWHERE)),
    );
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    const attempts = app.admission.refused.process_limit - 5;
    console.log(
      `${calls} refused calls made ${attempts} attempts (without throttling: ${calls * 5})`,
    );
    expect(attempts).toBeGreaterThanOrEqual(calls);
    expect(attempts).toBeLessThan(calls * 1.5);

    held.chat.call.end();
    await held.ended;
  });
});

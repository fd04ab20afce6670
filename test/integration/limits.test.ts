import * as grpc from '@grpc/grpc-js';
import type { RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import { FeatureDatabase } from '../../src/routeguide/features';
import { eventually, getFeature, openChat, routeChat } from '../helpers/calls';
import { scrape } from '../helpers/ops';
import { startTestServer, type TestServer } from '../helpers/server';

describe('connection limits and deadlines', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('refuses a message larger than MAX_RECEIVE_MESSAGE_BYTES with RESOURCE_EXHAUSTED', async () => {
    server = await startTestServer({ env: { MAX_RECEIVE_MESSAGE_BYTES: '1024' } });
    const location = { latitude: 1, longitude: 1 };
    // Just under the limit passes (the note's own framing adds a few bytes).
    await routeChat(server.client, [{ location, message: 'x'.repeat(1000) }]);
    await expect(
      routeChat(server.client, [{ location, message: 'x'.repeat(1025) }]),
    ).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    // The connection and the server are fine afterwards.
    expect(server.app.notes.size).toBe(1);
    const feature = await getFeature(server.client, { latitude: 409146138, longitude: -746188906 });
    expect(feature.name).not.toBe('');
  });

  it('admits at most MAX_CONCURRENT_STREAMS calls per connection; the next waits for a free slot', async () => {
    server = await startTestServer({ env: { MAX_CONCURRENT_STREAMS: '2' } });
    const location = { latitude: 5, longitude: 5 };
    const first = openChat(server.client);
    const second = openChat(server.client);
    first.call.write({ location, message: 'one' });
    second.call.write({ location, message: 'two' });
    // Whichever note arrived second was answered with the other: both streams are live.
    await eventually(() => first.received.length + second.received.length === 1, 10_000, 'an echo');

    let answered = false;
    const third = getFeature(server.client, { latitude: 409146138, longitude: -746188906 }).then(
      (feature) => {
        answered = true;
        return feature;
      },
    );
    // Another round trip on an open stream: the server has had every chance to see the third
    // call by now, yet it has not started it (the client holds it back for a free slot).
    const echoes = (chat: { received: RouteNote__Output[] }) => chat.received.length;
    const before = echoes(first);
    second.call.write({ location, message: 'three' });
    await eventually(() => echoes(first) > before || echoes(second) > 1, 10_000, 'round trip');
    const m = await scrape(server.app.metricsPort!);
    expect(m.value('grpc_server_started_total', { grpc_method: 'GetFeature' })).toBe(0);
    expect(answered).toBe(false);

    first.call.end();
    await first.done;
    expect((await third).name).not.toBe('');
    second.call.end();
    await second.done;
  });

  it.each([
    ['the deadline passes', 'DeadlineExceeded', grpc.status.DEADLINE_EXCEEDED],
    ['the client cancels', 'Canceled', grpc.status.CANCELLED],
  ])('a long ListFeatures stops its work when %s', async (_what, goCode, code) => {
    const many = Array.from({ length: 200_000 }, (_, i) => ({
      name: 'x'.repeat(40),
      location: { latitude: i, longitude: 0 },
    }));
    const features = FeatureDatabase.fromFeatures(many);
    let produced = 0;
    const featureAt = features.featureAt.bind(features);
    features.featureAt = (index: number) => {
      produced++;
      return featureAt(index);
    };
    server = await startTestServer({ features });
    // A slow reader: one message per 20 ms, so the server is held back by flow control.
    const call = server.client.ListFeatures(
      { lo: { latitude: 0, longitude: 0 }, hi: { latitude: 200_000, longitude: 0 } },
      code === grpc.status.DEADLINE_EXCEEDED ? { deadline: Date.now() + 500 } : {},
    );
    let received = 0;
    call.on('data', () => {
      received++;
      call.pause();
      setTimeout(() => call.resume(), 20);
    });
    if (code === grpc.status.CANCELLED) {
      await eventually(() => received >= 3, 10_000, 'three messages');
      call.cancel();
    }
    const error = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    expect(error.code).toBe(code);

    // The handler noticed: the call is counted as ended with that code ...
    const port = server.app.metricsPort!;
    const ended = async () =>
      (await scrape(port)).value('grpc_server_handled_total', {
        grpc_method: 'ListFeatures',
        grpc_code: goCode,
      });
    const until = Date.now() + 10_000;
    while ((await ended()) === 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await ended()).toBe(1);
    // ... and it produces nothing more.
    const after = produced;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(produced).toBe(after);
    expect(produced).toBeLessThan(many.length / 10);
  });
});

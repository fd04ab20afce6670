import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import { loadHealthClientConstructor } from '../../src/protocol/proto';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * With the default configuration (MAX_CONNECTION_AGE_MS 30 s, no age grace), connections are
 * rebalanced by GOAWAY but streams already open on them are never cut: a RouteChat and a health
 * Watch held open for 75 s (past two max ages) end normally, while new calls move to a new
 * connection. (A 10 s age grace would kill both at about 40 s with UNAVAILABLE.)
 */
const HOLD_MS = 75_000;
const NOTE_EVERY_MS = 5_000;

/** Records every connectivity state the channel goes through. */
function recordStates(channel: ReturnType<grpc.Client['getChannel']>): {
  states: grpc.connectivityState[];
  stop(): void;
} {
  const states: grpc.connectivityState[] = [channel.getConnectivityState(false)];
  let stopped = false;
  const watch = (): void => {
    if (stopped) return;
    try {
      channel.watchConnectivityState(states.at(-1)!, Date.now() + 1000, () => {
        if (stopped) return;
        const now = channel.getConnectivityState(false);
        if (now !== states.at(-1)) states.push(now);
        watch();
      });
    } catch {
      stopped = true; // the channel was closed
    }
  };
  watch();
  return { states, stop: () => void (stopped = true) };
}

type HealthWatchClient = grpc.Client & {
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

describe('long-lived streams with the default connection settings', () => {
  let server: TestServer;
  let recorder: ReturnType<typeof recordStates> | undefined;
  let health: HealthWatchClient | undefined;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    recorder?.stop();
    health?.close();
    await server.close();
  });

  it(
    'a RouteChat and a health Watch open for 75 s end normally across connection-age GOAWAYs',
    async () => {
      const channel = server.client.getChannel();
      recorder = recordStates(channel);
      const Health = loadHealthClientConstructor();
      health = new Health(server.address, grpc.credentials.createInsecure(), {
        channelOverride: channel,
      }) as unknown as HealthWatchClient;

      // Health Watch: sees SERVING now, then NOT_SERVING and a normal end at shutdown.
      const watchStatuses: string[] = [];
      const watch = health.Watch({ service: 'routeguide.RouteGuide' });
      watch.on('data', (response: { status: string }) => watchStatuses.push(response.status));
      const watchEnded = new Promise<grpc.StatusObject>((resolve) => watch.on('status', resolve));
      watch.on('error', () => undefined);

      // RouteChat: one note every 5 s at one location; each brings back all earlier ones.
      const chat = server.client.RouteChat();
      const received: RouteNote__Output[] = [];
      chat.on('data', (note: RouteNote__Output) => received.push(note));
      const chatEnded = new Promise<grpc.StatusObject>((resolve) => chat.on('status', resolve));
      chat.on('error', () => undefined);
      const location = { latitude: 123, longitude: 456 };
      const started = Date.now();
      let sent = 0;
      let unaryAfterAge: string | undefined;
      while (Date.now() - started < HOLD_MS) {
        chat.write({ location, message: `note ${sent}` });
        sent++;
        await delay(NOTE_EVERY_MS);
        if (unaryAfterAge === undefined && Date.now() - started > 40_000) {
          // A new call after the first max age goes to a new connection and succeeds.
          unaryAfterAge = await new Promise<string>((resolve, reject) =>
            server.client.GetFeature({ latitude: 409146138, longitude: -746188906 }, (e, f) =>
              e ? reject(e) : resolve(f!.name),
            ),
          );
        }
      }
      chat.end();
      const chatStatus = await chatEnded;
      expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS);
      expect({ code: chatStatus.code, details: chatStatus.details }).toEqual({
        code: grpc.status.OK,
        details: 'OK',
      });
      expect(received).toHaveLength((sent * (sent - 1)) / 2);
      expect(unaryAfterAge).toBe('Berkshire Valley Management Area Trail, Jefferson, NJ, USA');

      // The Watch is still open and still live: shutdown's NOT_SERVING reaches it, then OK.
      expect(watchStatuses).toEqual(['SERVING']);
      await server.app.shutdown(5000);
      const watchStatus = await watchEnded;
      expect(watchStatus.code).toBe(grpc.status.OK);
      expect(watchStatuses).toEqual(['SERVING', 'NOT_SERVING']);

      // The connection really did age out meanwhile: the channel left READY while streams ran.
      recorder.stop();
      const firstReady = recorder.states.indexOf(grpc.connectivityState.READY);
      expect(firstReady).toBeGreaterThanOrEqual(0);
      expect(recorder.states.slice(firstReady + 1)).toContain(grpc.connectivityState.IDLE);
    },
    HOLD_MS + 45_000,
  );
});

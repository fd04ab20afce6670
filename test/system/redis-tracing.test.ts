import { cli } from '../helpers/cli';
import {
  OTLP_SPAN_KIND,
  OTLP_STATUS,
  OtlpReceiver,
  type ReceivedSpan,
} from '../helpers/otlp-receiver';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { RedisServer } from '../helpers/redis-server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/**
 * Tracing with the Redis notes store: one `routeguide chat` through a real server process whose
 * notes live in a real redis-server. Every note's script is a CLIENT child span of the server's
 * RouteChat span, in the trace the CLI started; with Redis gone, the span records the failure.
 */
describe('Redis note-store operations in the trace (OTLP receiver in the suite)', () => {
  let receiver: OtlpReceiver;
  let redis: RedisServer;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    requireProgram(PROGRAMS.redisServer);
    receiver = await OtlpReceiver.start();
    redis = await RedisServer.onFreePort();
    await redis.start();
  });

  afterAll(async () => {
    server?.kill();
    await redis?.stop();
    await receiver?.close();
  });

  test('each note is an EVALSHA span, child of the RouteChat server span, with db attributes; a failure is an ERROR span', async () => {
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      // No timer-driven export: spans arrive through the flush at CLI exit and server SIGTERM.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    };
    server = spawnServer({
      ...otel,
      REDIS_URL: redis.url,
      METRICS: 'false',
      REPLICA_ID: 'r-redis',
    });
    const target = ['--target', `127.0.0.1:${await servingPort(server)}`];

    const notes = ['--note', '1,2=first', '--note', '1,2=second'];
    const chat = await cli(['chat', ...notes, ...target], otel);
    expect(chat.stderr).toBe('');
    expect(chat.code).toBe(0);
    expect(chat.stdout).toContain('"first"');

    // Redis gone: the next chat fails UNAVAILABLE, and its store span says why.
    await redis.kill();
    const failed = await cli(['chat', '--note', '3,4=lost', ...target], otel);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('UNAVAILABLE');

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    server = undefined;
    const isStore = (s: ReceivedSpan) => s.name === 'EVALSHA';
    const spans = await receiver.waitFor(
      (all) =>
        all.filter(isStore).length >= 3 &&
        all.filter((s) => s.kind === OTLP_SPAN_KIND.SERVER).length >= 2,
    );
    expect(receiver.rejected).toEqual([]);

    const [okClient, failedClient] = spans.filter(
      (s) => s.kind === OTLP_SPAN_KIND.CLIENT && s.name.endsWith('/RouteChat'),
    );
    for (const [client, storeSpans] of [
      [okClient!, 2],
      [failedClient!, 1],
    ] as const) {
      const serverSpan = spans.find(
        (s) => s.kind === OTLP_SPAN_KIND.SERVER && s.traceId === client.traceId,
      );
      expect(serverSpan?.parentSpanId).toBe(client.spanId);
      const children = spans.filter((s) => isStore(s) && s.traceId === client.traceId);
      expect(children).toHaveLength(storeSpans);
      for (const span of children) {
        expect(span.parentSpanId).toBe(serverSpan!.spanId);
        expect(span.kind).toBe(OTLP_SPAN_KIND.CLIENT);
        expect(span.resource['service.instance.id']).toBe('r-redis');
        expect(span.attributes).toMatchObject({
          'db.system.name': 'redis',
          'db.operation.name': 'EVALSHA',
          'db.namespace': '0',
          'server.address': '127.0.0.1',
          'server.port': redis.port,
        });
      }
      const expected = client === okClient ? OTLP_STATUS.UNSET : OTLP_STATUS.ERROR;
      expect(children.map((s) => s.status.code)).toEqual(children.map(() => expected));
    }
    // No credentials or note text in any store span.
    for (const span of spans.filter(isStore)) {
      expect(JSON.stringify(span.attributes)).not.toMatch(/first|second|lost/);
    }
  });
});

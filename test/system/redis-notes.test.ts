import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import type { RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import { createLogger } from '../../src/observability/logging';
import { NotesUnavailableError } from '../../src/routeguide/notes';
import { RedisNotesStore } from '../../src/stores/redis-notes';
import {
  chatOnce as chatOnceAt,
  eventually,
  getFeature,
  listFeatures,
  openChat,
  recordRoute,
} from '../helpers/calls';
import { check, healthClient } from '../helpers/ops';
import { RedisServer, writeNotesConcurrently } from '../helpers/redis-server';
import { capturingLogger, startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const quiet = createLogger('silent');
const at = (latitude: number, longitude = 7) => ({ latitude, longitude });

function chat(client: RouteGuideClient, notes: { location: object; message: string }[]) {
  const c = openChat(client);
  for (const note of notes) c.call.write(note);
  c.call.end();
  return c.done;
}

/** One note at `location` (default at(1)) through RouteChat (see helpers/calls.ts). */
const chatOnce = (client: RouteGuideClient, message: string, location = at(1), deadlineMs = 5000) =>
  chatOnceAt(client, message, location, deadlineMs);

describe('RouteChat notes in a real Redis', () => {
  let redis: RedisServer;

  beforeAll(() => {
    requireProgram(PROGRAMS.redisServer);
  });

  beforeEach(async () => {
    redis = await RedisServer.onFreePort();
    await redis.start();
  });

  afterEach(async () => {
    await redis.stop();
  });

  it('stores one list per location: replay then append, cap, expiry, key layout', async () => {
    const store = new RedisNotesStore({
      url: redis.url,
      keyPrefix: 'test:',
      maxPerLocation: 3,
      ttlSeconds: 600,
      logger: quiet,
    });
    const inspect = new Redis(redis.url);
    try {
      await eventually(() => store.connected, 5000, 'store connected');
      const note = (message: string, latitude = 1) => ({ location: at(latitude), message });
      expect(await store.add(note('a'))).toEqual([]);
      expect(await store.add(note('x', 2))).toEqual([]);
      expect(await store.add(note(''))).toEqual([note('a')]);
      expect(await store.add(note('ü 🌍'))).toEqual([note('a'), note('')]);
      expect(await store.add(note('d'))).toEqual([note('a'), note(''), note('ü 🌍')]);
      expect(await store.add(note('e'))).toEqual([note(''), note('ü 🌍'), note('d')]);
      expect(await inspect.lrange('test:notes:1,7', 0, -1)).toEqual(['ü 🌍', 'd', 'e']);
      expect(await inspect.keys('*')).toEqual(expect.arrayContaining(['test:notes:1,7']));
      expect((await inspect.keys('*')).sort()).toEqual(['test:notes:1,7', 'test:notes:2,7']);
      const ttl = await inspect.ttl('test:notes:1,7');
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
    } finally {
      inspect.disconnect();
      await store.close();
    }
  });

  it('three replicas share the notes: a note through one is replayed through the others', async () => {
    const servers: TestServer[] = [];
    try {
      for (let i = 1; i <= 3; i++) {
        servers.push(
          await startTestServer({ env: { REDIS_URL: redis.url, REPLICA_ID: `replica-${i}` } }),
        );
      }
      await eventually(
        () => servers.every((s) => (s.app.notes as RedisNotesStore).connected),
        5000,
        'all replicas connected',
      );
      const [a, b, c] = servers as [TestServer, TestServer, TestServer];
      expect(await chat(a.client, [{ location: at(5), message: 'via a' }])).toEqual([]);
      const throughB = await chat(b.client, [{ location: at(5), message: 'via b' }]);
      expect(throughB.map((n) => n.message)).toEqual(['via a']);
      const throughC = await chat(c.client, [{ location: at(5), message: 'via c' }]);
      expect(throughC.map((n) => n.message)).toEqual(['via a', 'via b']);
      expect(throughC[0]!.location).toEqual(at(5));
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('three writers through three replicas at once: nothing lost, duplicated or reordered', async () => {
    const WRITERS = 3;
    const PER_WRITER = 150;
    const servers: TestServer[] = [];
    try {
      for (let i = 0; i < WRITERS; i++) {
        servers.push(
          await startTestServer({ env: { REDIS_URL: redis.url, NOTES_MAX_PER_LOCATION: '1000' } }),
        );
      }
      await eventually(
        () => servers.every((s) => (s.app.notes as RedisNotesStore).connected),
        5000,
        'connected',
      );
      const location = at(42, 42);
      const { sent, replays } = await writeNotesConcurrently(servers, PER_WRITER, location);
      // Under the cap the list only grows, so it is the global order of every note.
      const inspect = new Redis(redis.url);
      const order = await inspect.lrange('routeguide:notes:42,42', 0, -1);
      inspect.disconnect();
      expect(order).toHaveLength(WRITERS * PER_WRITER);
      expect(new Set(order).size).toBe(order.length);
      expect([...order].sort()).toEqual(sent.flat().sort());
      const position = new Map(order.map((message, i) => [message, i]));
      for (let w = 0; w < WRITERS; w++) {
        // Each writer's notes are in the order it sent them...
        const mine = order.filter((m) => m.startsWith(`w${w}-`));
        expect(mine).toEqual(sent[w]);
        // ...and each note was answered with exactly the notes before it in the global order.
        sent[w]!.forEach((message, i) => {
          expect(replays[w]![i]).toEqual(order.slice(0, position.get(message)));
        });
      }
      // The writers really interleaved (otherwise this test proves little about atomicity).
      const switches = order.filter((m, i) => i > 0 && m.slice(0, 2) !== order[i - 1]!.slice(0, 2));
      process.stdout.write(
        `concurrent writers: ${JSON.stringify({ notes: order.length, writerSwitches: switches.length })}\n`,
      );
      expect(switches.length).toBeGreaterThan(10);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('three writers under a per-location cap: the newest notes are kept, each writer in order', async () => {
    const CAP = 50;
    const servers: TestServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        servers.push(
          await startTestServer({
            env: { REDIS_URL: redis.url, NOTES_MAX_PER_LOCATION: String(CAP) },
          }),
        );
      }
      await eventually(
        () => servers.every((s) => (s.app.notes as RedisNotesStore).connected),
        5000,
        'connected',
      );
      const { sent, replays } = await writeNotesConcurrently(servers, 100, at(43, 43));
      const inspect = new Redis(redis.url);
      const kept = await inspect.lrange('routeguide:notes:43,43', 0, -1);
      inspect.disconnect();
      expect(kept).toHaveLength(CAP);
      expect(new Set(kept).size).toBe(CAP);
      for (let w = 0; w < 3; w++) {
        // What is kept of each writer is the newest of what it sent, in order.
        const mine = kept.filter((m) => m.startsWith(`w${w}-`));
        expect(mine).toEqual(sent[w]!.slice(sent[w]!.length - mine.length));
        for (const replay of replays[w]!) {
          expect(replay.length).toBeLessThanOrEqual(CAP);
          expect(new Set(replay).size).toBe(replay.length);
        }
      }
      // The newest note of all is the last note of whichever writer finished last.
      expect(sent.map((mine) => mine.at(-1))).toContain(kept.at(-1));
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('starts without Redis, serves the other RPCs, answers RouteChat UNAVAILABLE, and recovers', async () => {
    await redis.kill();
    const { logger, lines } = capturingLogger();
    const server = await startTestServer({
      env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '1000' },
      logger,
    });
    try {
      // Everything but RouteChat works; health stays SERVING.
      expect(
        (await getFeature(server.client, { latitude: 409146138, longitude: -746188906 })).name,
      ).not.toBe('');
      expect(
        (
          await listFeatures(server.client, {
            lo: { latitude: 400000000, longitude: -750000000 },
            hi: { latitude: 420000000, longitude: -730000000 },
          })
        ).length,
      ).toBeGreaterThan(0);
      expect((await recordRoute(server.client, [at(1), at(2)])).point_count).toBe(2);
      const health = healthClient(server.address);
      for (const service of ['', 'routeguide.RouteGuide']) {
        expect(await check(health, service)).toBe('SERVING');
      }
      health.close();

      const failures = [];
      for (let i = 0; i < 5; i++) failures.push(await chatOnce(server.client, `down ${i}`));
      for (const failure of failures) {
        expect(failure.code).toBe(grpc.status.UNAVAILABLE);
        expect(failure.details).toBe('notes store unavailable');
        expect(failure.ms).toBeLessThan(3000);
      }

      // The failures are counted by kind, and timed.
      const exposition = await server.app.metrics!.registry.metrics();
      expect(exposition).toContain(
        'routeguide_notes_store_errors_total{store="redis",kind="unreachable"} 5',
      );
      expect(exposition).toContain(
        'routeguide_notes_store_operation_seconds_count{store="redis",operation="add"} 5',
      );
      expect(exposition).toContain('routeguide_notes_store_up{store="redis"} 0');

      // Redis comes up: RouteChat works again without a restart.
      const upAt = Date.now();
      await redis.start();
      let recovered: Awaited<ReturnType<typeof chatOnce>> | undefined;
      while (Date.now() - upAt < 15_000) {
        recovered = await chatOnce(server.client, 'back');
        if (recovered.replay !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const recoveryMs = Date.now() - upAt;
      process.stdout.write(`recovery after Redis came up: ${recoveryMs} ms\n`);
      expect(recovered?.replay).toEqual([]);
      expect(recoveryMs).toBeLessThan(5000);

      expect(await server.app.metrics!.registry.metrics()).toContain(
        'routeguide_notes_store_up{store="redis"} 1',
      );
      // Connection state changes were logged once each, not per call or per retry.
      const messages = lines().map((line) => line['msg']);
      expect(messages.filter((m) => m === 'notes store unreachable')).toHaveLength(1);
      expect(messages.filter((m) => m === 'notes store connected')).toHaveLength(1);
      expect(messages.filter((m) => m === 'handler failed')).toHaveLength(0);
      // Credentials never reach the logs: the URL logged is the redacted one.
      expect(JSON.stringify(lines())).toContain(`127.0.0.1:${redis.port}`);
    } finally {
      await server.close();
    }
  });

  it('Redis killed mid-stream: that RouteChat ends UNAVAILABLE, no crash; back on the same port, it works again', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const { logger, lines } = capturingLogger();
    const server = await startTestServer({ env: { REDIS_URL: redis.url }, logger });
    try {
      await eventually(() => (server.app.notes as RedisNotesStore).connected, 5000, 'connected');
      const call = server.client.RouteChat();
      const got: string[] = [];
      const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
        call.on('data', (note: RouteNote__Output) => got.push(note.message));
        call.on('error', resolve);
        call.on('end', () => resolve(undefined));
      });
      call.write({ location: at(9), message: 'one' });
      call.write({ location: at(9), message: 'two' });
      await eventually(() => got.length === 1, 5000, 'first replay');
      const killedAt = Date.now();
      await redis.kill();
      call.write({ location: at(9), message: 'three' });
      const error = await ended;
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.details).toBe('notes store unavailable');
      const failMs = Date.now() - killedAt;

      // Other calls while Redis is gone: RouteChat UNAVAILABLE at once, the rest fine.
      const down = await chatOnce(server.client, 'while down');
      expect(down.code).toBe(grpc.status.UNAVAILABLE);
      expect((await getFeature(server.client, at(1))).location).toEqual(at(1));

      const restartAt = Date.now();
      await redis.start();
      let recovered: Awaited<ReturnType<typeof chatOnce>> | undefined;
      while (Date.now() - restartAt < 15_000) {
        recovered = await chatOnce(server.client, 'again', at(9));
        if (recovered.replay !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const recoveryMs = Date.now() - restartAt;
      process.stdout.write(
        `redis lost mid-stream: ${JSON.stringify({ streamFailedAfterMs: failMs, recoveryAfterRestartMs: recoveryMs })}\n`,
      );
      // The restarted Redis is empty (no persistence): the replay starts afresh.
      expect(recovered?.replay).toEqual([]);
      expect(recoveryMs).toBeLessThan(5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
      const messages = lines().map((line) => line['msg']);
      expect(messages.filter((m) => m === 'notes store connection lost')).toHaveLength(1);
      expect(messages.filter((m) => m === 'notes store connected')).toHaveLength(2);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await server.close();
    }
  });

  it('three replicas under load: Redis SIGKILLed and restarted mid-run, every call OK or UNAVAILABLE, all recover', async () => {
    const servers: TestServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        servers.push(await startTestServer({ env: { REDIS_URL: redis.url } }));
      }
      await eventually(
        () => servers.every((s) => (s.app.notes as RedisNotesStore).connected),
        5000,
        'connected',
      );
      const outcomes = new Map<string, number>();
      let restartedAt = 0;
      const firstOkAfterRestart = new Map<number, number>();
      let stop = false;
      const writers = servers.map(async (server, w) => {
        for (let i = 0; !stop; i++) {
          const result = await chatOnce(server.client, `w${w} ${i}`, at(77, w), 3000);
          const key = result.code === undefined ? 'OK' : grpc.status[result.code]!;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
          if (result.code === undefined && restartedAt > 0 && !firstOkAfterRestart.has(w)) {
            firstOkAfterRestart.set(w, Date.now() - restartedAt);
          }
          // Calls never hang: each ends well before its 3 s deadline.
          expect(result.ms).toBeLessThan(2500);
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await redis.kill();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await redis.start();
      restartedAt = Date.now();
      await eventually(() => firstOkAfterRestart.size === 3, 10_000, 'every replica recovered');
      await new Promise((resolve) => setTimeout(resolve, 300));
      stop = true;
      await Promise.all(writers);
      process.stdout.write(
        `kill/restart under load: ${JSON.stringify({ outcomes: Object.fromEntries(outcomes), recoveryMsByReplica: [...firstOkAfterRestart.values()] })}\n`,
      );
      expect([...outcomes.keys()].sort()).toEqual(['OK', 'UNAVAILABLE']);
      for (const ms of firstOkAfterRestart.values()) expect(ms).toBeLessThan(5000);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('a RouteChat deadline shorter than the command timeout is honoured against a hung Redis', async () => {
    const server = await startTestServer({
      env: { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '5000' },
    });
    const pid = (redis as unknown as { child: { pid: number } }).child.pid;
    try {
      await eventually(() => (server.app.notes as RedisNotesStore).connected, 5000, 'connected');
      process.kill(pid, 'SIGSTOP');
      const result = await chatOnce(server.client, 'hung', at(3), 300);
      expect(result.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(result.ms).toBeLessThan(1500);
    } finally {
      process.kill(pid, 'SIGCONT');
      await server.close();
    }
  });

  it('a silent Redis (SIGSTOP) fails the operation after the command timeout, not later', async () => {
    const store = new RedisNotesStore({ url: redis.url, commandTimeoutMs: 500, logger: quiet });
    try {
      await eventually(() => store.connected, 5000, 'connected');
      await store.add({ location: at(1), message: 'a' });
      const pid = (redis as unknown as { child: { pid: number } }).child.pid;
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      try {
        await expect(store.add({ location: at(1), message: 'b' })).rejects.toBeInstanceOf(
          NotesUnavailableError,
        );
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // Once Redis answers again, so does the store (the silent connection was replaced).
      const restartAt = Date.now();
      let ok = false;
      while (!ok && Date.now() - restartAt < 10_000) {
        ok = await store.add({ location: at(2), message: 'c' }).then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});

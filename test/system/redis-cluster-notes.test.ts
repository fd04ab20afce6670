import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import type { RedisNotesStore } from '../../src/stores/redis-notes';
import { chatOnce, eventually, getFeature } from '../helpers/calls';
import { RedisCluster, writeNotesConcurrently } from '../helpers/redis-server';
import { capturingLogger, startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const at = (latitude: number, longitude = 7) => ({ latitude, longitude });

/** RouteGuideApp servers (three by default) in cluster mode, all given the same single seed node. */
async function startReplicas(
  cluster: RedisCluster,
  env: Record<string, string>,
  options: Parameters<typeof startTestServer>[0] = {},
  count = 3,
): Promise<TestServer[]> {
  const servers: TestServer[] = [];
  for (let i = 1; i <= count; i++) {
    servers.push(
      await startTestServer({
        ...options,
        env: { REDIS_URL: cluster.seedUrl, REDIS_CLUSTER: 'true', REPLICA_ID: `r${i}`, ...env },
      }),
    );
  }
  await eventually(
    () => servers.every((s) => (s.app.notes as RedisNotesStore).connected),
    10_000,
    'every replica connected to the cluster',
  );
  return servers;
}

describe('RouteChat notes on a real 3-master Redis Cluster (one seed node configured)', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    requireProgram(PROGRAMS.redisServer);
    requireProgram(PROGRAMS.redisCli);
    cluster = await RedisCluster.start(3);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('three replicas share the notes of locations spread over all three masters', async () => {
    const LOCATIONS = 30;
    const servers = await startReplicas(cluster, { REDIS_KEY_PREFIX: 'share:' });
    const seed = new Redis(cluster.nodes[0]!.port, '127.0.0.1');
    try {
      const [a, b, c] = servers as [TestServer, TestServer, TestServer];
      const locations = Array.from({ length: LOCATIONS }, (_, i) => at(100 + i, -i));
      await Promise.all(
        locations.map(async (location) => {
          expect(await chatOnce(a.client, 'via a', location)).toMatchObject({ replay: [] });
          expect((await chatOnce(b.client, 'via b', location)).replay).toEqual(['via a']);
          expect((await chatOnce(c.client, 'via c', location)).replay).toEqual(['via a', 'via b']);
        }),
      );
      // One key per location, each held by exactly one master: the one owning its slot.
      const perNode = cluster.nodes.map(() => 0);
      for (const location of locations) {
        const key = `share:notes:${location.latitude},${location.longitude}`;
        const owner = await cluster.ownerOf(key);
        perNode[owner]! += 1;
        const slot = Number(await seed.cluster('KEYSLOT', key));
        const node = new Redis(cluster.nodes[owner]!.port, '127.0.0.1');
        try {
          expect(await node.cluster('COUNTKEYSINSLOT', slot)).toBe(1);
          expect(await node.lrange(key, 0, -1)).toEqual(['via a', 'via b', 'via c']);
        } finally {
          node.disconnect();
        }
      }
      process.stdout.write(`cluster key layout: ${JSON.stringify({ keysPerMaster: perNode })}\n`);
      for (const count of perNode) expect(count).toBeGreaterThan(0);
      expect(perNode.reduce((x, y) => x + y, 0)).toBe(LOCATIONS);
    } finally {
      seed.disconnect();
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('three writers through three replicas at once: nothing lost, duplicated or reordered', async () => {
    const PER_WRITER = 120;
    const servers = await startReplicas(cluster, {
      REDIS_KEY_PREFIX: 'order:',
      NOTES_MAX_PER_LOCATION: '1000',
    });
    try {
      const location = at(42, 42);
      const key = 'order:notes:42,42';
      const { sent, replays } = await writeNotesConcurrently(servers, PER_WRITER, location);
      const owner = cluster.nodes[await cluster.ownerOf(key)]!;
      const node = new Redis(owner.port, '127.0.0.1');
      const order = await node.lrange(key, 0, -1);
      node.disconnect();
      expect(order).toHaveLength(3 * PER_WRITER);
      expect(new Set(order).size).toBe(order.length);
      expect([...order].sort()).toEqual(sent.flat().sort());
      const position = new Map(order.map((message, i) => [message, i]));
      for (let w = 0; w < 3; w++) {
        expect(order.filter((m) => m.startsWith(`w${w}-`))).toEqual(sent[w]);
        sent[w]!.forEach((message, i) => {
          expect(replays[w]![i]).toEqual(order.slice(0, position.get(message)));
        });
      }
      const switches = order.filter((m, i) => i > 0 && m.slice(0, 2) !== order[i - 1]!.slice(0, 2));
      process.stdout.write(
        `cluster concurrent writers: ${JSON.stringify({ notes: order.length, writerSwitches: switches.length, masterPort: owner.port })}\n`,
      );
      expect(switches.length).toBeGreaterThan(10);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('one master lost: its locations fail at once, the others serve until Redis calls the cluster down; back, all serve', async () => {
    const [server] = await startReplicas(cluster, { REDIS_KEY_PREFIX: 'one:' }, {}, 1);
    try {
      // One location per master.
      const byNode = new Map<number, { latitude: number; longitude: number }>();
      for (let i = 0; byNode.size < 3; i++) {
        const location = at(500 + i);
        expect((await chatOnce(server!.client, 'first', location)).replay).toEqual([]);
        const owner = await cluster.ownerOf(`one:notes:${location.latitude},${location.longitude}`);
        if (!byNode.has(owner)) byNode.set(owner, location);
      }
      const probe = async (tag: string) =>
        Promise.all(
          [0, 1, 2].map(async (n) => {
            const result = await chatOnce(server!.client, tag, byNode.get(n)!, 5000);
            // Never a hang: every note is answered or refused well within its deadline.
            expect(result.ms).toBeLessThan(1500);
            return result.code === undefined
              ? 'OK'
              : (grpc.status[result.code] ?? String(result.code));
          }),
        );
      await cluster.nodes[2]!.kill();
      // Right away: the lost master's slots fail (its connection is gone), the others serve.
      expect(await probe('one lost')).toEqual(['OK', 'OK', 'UNAVAILABLE']);
      // Without a replica to fail over to, Redis marks the cluster down (cluster-node-timeout,
      // 2 s here) and refuses every key: CLUSTERDOWN, answered UNAVAILABLE at once.
      const lostAt = Date.now();
      const seen: string[][] = [];
      for (;;) {
        const outcomes = await probe('while lost');
        seen.push(outcomes);
        if (outcomes.every((o) => o === 'UNAVAILABLE')) break;
        if (Date.now() - lostAt > 20_000)
          throw new Error(`never CLUSTERDOWN: ${JSON.stringify(seen)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const clusterDownAfterMs = Date.now() - lostAt;
      await cluster.startNodes();
      await cluster.waitUntilOk();
      const upAt = Date.now();
      for (;;) {
        const outcomes = await probe('back');
        if (outcomes.every((o) => o === 'OK')) break;
        if (Date.now() - upAt > 20_000) throw new Error(`not back: ${outcomes.join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      process.stdout.write(
        `one master lost: ${JSON.stringify({ clusterDownAfterMs, probes: seen.length, backAfterMs: Date.now() - upAt })}\n`,
      );
    } finally {
      await server?.close();
    }
  });

  // Last: it takes the cluster down (and brings it back).
  it('cluster down: RouteChat answers UNAVAILABLE at once, the rest serves; back up, it works again', async () => {
    const { logger, lines } = capturingLogger();
    const servers = await startReplicas(
      cluster,
      { REDIS_KEY_PREFIX: 'down:', REDIS_COMMAND_TIMEOUT_MS: '1000' },
      { logger },
    );
    try {
      for (const server of servers) {
        expect((await chatOnce(server.client, 'before', at(9))).code).toBeUndefined();
      }
      await cluster.kill();
      const failures = [];
      for (const server of servers) {
        for (let i = 0; i < 3; i++) {
          failures.push(await chatOnce(server.client, `down ${i}`, at(10 + i), 5000));
        }
      }
      process.stdout.write(
        `cluster down: ${JSON.stringify({ failureMs: failures.map((f) => f.ms) })}\n`,
      );
      for (const failure of failures) {
        expect(failure.code).toBe(grpc.status.UNAVAILABLE);
        expect(failure.details).toBe('notes store unavailable');
        expect(failure.ms).toBeLessThan(3000);
      }
      // The other RPCs do not need Redis.
      expect((await getFeature(servers[0]!.client, at(1))).location).toEqual(at(1));

      // The nodes come back (same ports, their nodes.conf): every replica recovers by itself.
      await cluster.startNodes();
      await cluster.waitUntilOk();
      const upAt = Date.now();
      const recoveredMs: number[] = [];
      for (const [i, server] of servers.entries()) {
        for (;;) {
          const result = await chatOnce(server.client, `back ${i}`, at(11, i), 3000);
          if (result.replay !== undefined) break;
          if (Date.now() - upAt > 20_000) throw new Error(`replica ${i} did not recover`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        recoveredMs.push(Date.now() - upAt);
      }
      process.stdout.write(`cluster back: ${JSON.stringify({ recoveredMs })}\n`);
      const messages = lines().map((line) => line['msg']);
      // One line per state change and replica: connected, lost, connected again.
      expect(messages.filter((m) => m === 'notes store connection lost')).toHaveLength(3);
      expect(messages.filter((m) => m === 'notes store connected')).toHaveLength(6);
      expect(messages.filter((m) => m === 'handler failed')).toHaveLength(0);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { spread } from '../../src/client/spread';
import type { Feature__Output } from '../../src/generated/routeguide/Feature';
import type { RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import { REPLICA_HEADER } from '../../src/protocol/replica';
import { killAll, servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { warmUp } from '../helpers/replicas';

// Each whole-database ListFeatures is ~150 KB, well over the 64 KiB HTTP/2 stream window, so a
// paused reader really holds its stream open on the server. The whole drain (25 lists x 5,000
// features read by this one process) takes a few seconds; 20,000 features made it 25 s on an
// idle machine and past the grace period on a loaded one.
const FEATURES = 5_000;
// Generous so that a slow machine cannot turn slowness into cancelled streams: the check is
// that the replica exits as soon as its streams are done, long before the grace period.
const GRACE_MS = 60_000;

/** A database large enough that a whole-database ListFeatures is still streaming when SIGTERM lands. */
function writeBigDatabase(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-replica-loss-'));
  const file = path.join(dir, 'features.json');
  const features = Array.from({ length: FEATURES }, (_, i) => ({
    name: `feature ${i}`,
    location: { latitude: i, longitude: 0 },
  }));
  writeFileSync(file, JSON.stringify(features));
  return file;
}

interface StreamOutcome {
  kind: 'list' | 'chat';
  replica: string | undefined;
  code: grpc.status;
  received: number;
}

describe('replica loss', () => {
  let processes: ServerProcess[] = [];
  let client: RouteGuideClient | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await killAll(processes);
    processes = [];
  });

  it('loses no call to a SIGKILL, and a SIGTERM lets 50 in-flight streams finish', async () => {
    const ids = ['rl-1', 'rl-2', 'rl-3'];
    const featuresFile = writeBigDatabase();
    processes = ids.map((id) =>
      spawnServer({
        REPLICA_ID: id,
        FEATURES_FILE: featuresFile,
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
      }),
    );
    const ports = await Promise.all(processes.map((p) => servingPort(p, 30_000)));
    // The library's defaults: round robin and its retry policy; only the deadline is lifted
    // so that a loaded CI machine cannot turn slowness into failures.
    client = createRouteGuideClient({
      target: `ipv4:${ports.map((port) => `127.0.0.1:${port}`).join(',')}`,
      deadlineMs: 30_000,
    });
    await warmUp(client, ids);

    // Part 1: SIGKILL one replica in the middle of 10,000 GetFeature calls.
    const killed = processes[0]!;
    const result = await spread(client, {
      calls: 10_000,
      concurrency: 20,
      onProgress: (done) => {
        if (done === 3_000) killed.child.kill('SIGKILL');
      },
    });
    expect((await killed.exited).signal).toBe('SIGKILL');
    process.stdout.write(`replica loss, SIGKILL: ${JSON.stringify(result)}\n`);
    expect(result.failed).toBe(0);
    expect(result.succeeded).toBe(10_000);
    expect(result.replicas['rl-1']).toBeGreaterThan(0);

    // Part 2: 50 streams in flight on the two survivors, then SIGTERM one of them.
    const stub = client.stub;
    const outcomes: Promise<StreamOutcome>[] = [];
    const lists: grpc.ClientReadableStream<Feature__Output>[] = [];
    const chats: grpc.ClientDuplexStream<unknown, RouteNote__Output>[] = [];
    const firstMessage: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const deadline = Date.now() + 2 * GRACE_MS;
      const kind = i % 2 === 0 ? 'list' : 'chat';
      const call =
        kind === 'list'
          ? stub.ListFeatures(
              { lo: { latitude: 0, longitude: 0 }, hi: { latitude: FEATURES, longitude: 0 } },
              { deadline },
            )
          : stub.RouteChat({ deadline });
      let replica: string | undefined;
      let received = 0;
      call.on('metadata', (m: grpc.Metadata) => (replica = String(m.get(REPLICA_HEADER)[0])));
      firstMessage.push(
        new Promise((resolve) => {
          call.once('data', () => resolve());
        }),
      );
      call.on('data', () => received++);
      outcomes.push(
        new Promise((resolve) => {
          call.on('status', (status: grpc.StatusObject) =>
            resolve({ kind, replica, code: status.code, received }),
          );
          call.on('error', () => undefined);
        }),
      );
      if (kind === 'list') {
        // Read one message, then hold the stream open (paused) until after the SIGTERM.
        call.once('data', () => call.pause());
        lists.push(call as grpc.ClientReadableStream<Feature__Output>);
      } else {
        const chat = call as grpc.ClientDuplexStream<unknown, RouteNote__Output>;
        const location = { latitude: 7, longitude: i };
        chat.write({ location, message: 'before' });
        chat.write({ location, message: 'before again' });
        chats.push(chat);
      }
    }
    await Promise.all(firstMessage);

    const terminated = processes[1]!;
    const sigtermAt = Date.now();
    terminated.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The streams go on after the signal: chats send more and close, lists read to the end.
    for (const [i, chat] of chats.entries()) {
      chat.write({ location: { latitude: 8, longitude: i }, message: 'after SIGTERM' });
      chat.end();
    }
    for (const list of lists) list.resume();

    const finished = await Promise.all(outcomes);
    const drainedMs = Date.now() - sigtermAt;
    const exit = await terminated.exited;
    const exitMs = Date.now() - sigtermAt;
    const onTerminated = finished.filter((o) => o.replica === 'rl-2');
    process.stdout.write(
      `replica loss, SIGTERM: ${JSON.stringify({ streams: finished.length, onTerminatedReplica: onTerminated.length, exit, drainedMs, exitMs, codes: [...new Set(finished.map((o) => grpc.status[o.code]))] })}\n`,
    );
    expect(finished.map((o) => grpc.status[o.code])).toEqual(Array(50).fill('OK'));
    for (const o of finished) {
      if (o.kind === 'list') expect(o.received).toBe(FEATURES);
      else expect(o.received).toBe(1); // 'before' echoed once, for 'before again'
    }
    expect(onTerminated.length).toBeGreaterThan(5);
    expect(exit).toEqual({ code: 0, signal: null });
    // It stayed for its streams (resumed 500 ms after the signal), and left as soon as they ended.
    expect(exitMs).toBeGreaterThanOrEqual(500);
    expect(exitMs).toBeLessThan(GRACE_MS);
    expect(terminated.logs.some((l) => String(l['msg']).includes('grace period over'))).toBe(false);
  });
});

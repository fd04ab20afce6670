import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import type http2 from 'node:http2';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRouteGuideRoot } from '../../src/protocol/proto';
import { writeFeatureFile } from '../../bench/generate';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { connectWithSocket, frame, openRawStream, rawCall } from '../helpers/raw-grpc';

// Whole-world ListFeatures on 100,000 features, from clients that never read and then vanish.
// Materialising each call's matches (≈ 400 KB of indexes at this size, built synchronously in
// the handler) would cost 500 × 400 KB = 200 MB held by stalled calls. Each stalled call also
// holds what the transport has taken and not sent (the write-behind window, one batch, grpc-js's
// buffer) whatever its box, so whole-world calls are compared with calls whose box matches a
// few thousand features (more than a stalled call ever takes), each on its own server.
const FEATURES = 100_000;
const CONNECTIONS = 5;
const STREAMS_PER_CONNECTION = 100;
const MiB = 1024 * 1024;

const CLOCK_TICKS =
  Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds the process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident set size now (VmRSS) and at its peak so far (VmHWM), in bytes. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

const root = loadRouteGuideRoot();
const rectangle = (west: number, east: number): Buffer =>
  frame(
    root
      .lookupType('routeguide.Rectangle')
      .encode({
        lo: { latitude: -900_000_000, longitude: west },
        hi: { latitude: 900_000_000, longitude: east },
      })
      .finish(),
  );
const WHOLE_WORLD = rectangle(-1_800_000_000, 1_800_000_000);
/** 18° of longitude: 5% of the features, about 5,000. */
const SLICE = rectangle(0, 180_000_000);

interface Client {
  session: http2.ClientHttp2Session;
  socket: net.Socket;
  /** Resolves once the server has answered every stream's headers (its handler ran). */
  answered: Promise<void>;
  /** Resolves once the server has answered the first stream's headers. */
  firstAnswer: Promise<void>;
}

/** A connection with `STREAMS_PER_CONNECTION` whole-world ListFeatures that are never read. */
async function openNonReader(address: string, body: Buffer): Promise<Client> {
  const { session, socket } = await connectWithSocket(address);
  const answers = Array.from(
    { length: STREAMS_PER_CONNECTION },
    () =>
      new Promise<void>((resolve) => {
        const { stream } = openRawStream(session, '/routeguide.RouteGuide/ListFeatures', body);
        stream.on('response', () => resolve());
        stream.on('close', () => resolve());
        // Never read: the stream's window (64 KiB) and the connection's fill and stay full.
        stream.pause();
      }),
  );
  return {
    session,
    socket,
    answered: Promise.all(answers).then(() => undefined),
    firstAnswer: Promise.race(answers),
  };
}

/** Destroys every socket and resolves when the last has closed. */
async function vanish(clients: readonly Client[]): Promise<void> {
  await Promise.all(
    clients.map(
      ({ socket }) =>
        new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.destroy();
        }),
    ),
  );
}

/** Server CPU seconds in the `ms` after now. */
async function cpuDuring(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return cpuSeconds(pid) - before;
}

/** Starts a server on the database, for `nonReaders`. */
async function start(file: string): Promise<{ server: ServerProcess; address: string }> {
  const server = spawnServer({ FEATURES_FILE: file });
  return { server, address: `127.0.0.1:${await servingPort(server, 20_000)}` };
}

async function servesOthers(address: string): Promise<void> {
  const { session } = await connectWithSocket(address);
  const outcome = await rawCall(
    session,
    '/routeguide.RouteGuide/GetFeature',
    frame(Buffer.alloc(0)),
  );
  session.destroy();
  expect(outcome.grpcStatus).toBe(0);
}

/**
 * Opens the calls, waits until every one has been answered (its handler ran) and stalled, then
 * makes the client vanish: RSS growth while stalled, CPU in the 2 s after the last socket closed.
 */
async function abandon(
  { server, address }: { server: ServerProcess; address: string },
  body: Buffer,
): Promise<{ growthMiB: number; cpuAfterS: number }> {
  const pid = server.child.pid!;
  await servesOthers(address);
  const baseline = memory(pid).rss;
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => openNonReader(address, body)),
  );
  await Promise.all(clients.map((c) => c.answered));
  const stalled = memory(pid).rss;
  await vanish(clients);
  const cpuAfterS = await cpuDuring(pid, 2000);
  await servesOthers(address);
  return { growthMiB: (stalled - baseline) / MiB, cpuAfterS };
}

describe('whole-world ListFeatures from clients that never read and vanish', () => {
  const servers: ServerProcess[] = [];
  let world: { server: ServerProcess; address: string };
  let slice: { server: ServerProcess; address: string };

  beforeAll(async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'routeguide-abandoned-')), 'f.json');
    writeFeatureFile(file, FEATURES);
    [world, slice] = await Promise.all([start(file), start(file)]);
    servers.push(world.server, slice.server);
  }, 30_000);

  afterAll(async () => {
    for (const server of servers) server.kill();
    await Promise.all(servers.map((server) => server.exited));
  });

  it('holds no more per stalled call than for a small box, and nothing once the client is gone', async () => {
    const small = await abandon(slice, SLICE);
    const whole = await abandon(world, WHOLE_WORLD);
    process.stdout.write(
      `abandoned lists (${CONNECTIONS * STREAMS_PER_CONNECTION} stalled streams): ${JSON.stringify({ slice: small, world: whole })}\n`,
    );
    // Matches are not materialised: 500 whole-world calls would add 200 MB of indexes.
    expect(whole.growthMiB).toBeLessThan(small.growthMiB + 60);
    // Nothing runs for calls whose client has gone but the transport's own clean-up.
    expect(whole.cpuAfterS).toBeLessThanOrEqual(small.cpuAfterS + 0.2);
  });
});

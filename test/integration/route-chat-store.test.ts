import * as grpc from '@grpc/grpc-js';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { createLogger } from '../../src/observability/logging';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { NotesUnavailableError, type Note, type NotesStore } from '../../src/routeguide/notes';
import { MemoryNotesStore } from '../../src/stores/memory-notes';
import { createRouteGuideService } from '../../src/service/route-guide';
import { CANONICAL_FILE } from '../helpers/canonical';
import { openChat, routeChat } from '../helpers/calls';

/** A store that answers after a random delay, recording what it was asked and how concurrently. */
class SlowStore implements NotesStore {
  readonly inner = new MemoryNotesStore();
  readonly seen: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  fail: ((note: Note) => Error | undefined) | undefined;
  get size(): number {
    return this.inner.size;
  }
  async add(note: Note): Promise<Note[]> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      const error = this.fail?.(note);
      if (error) throw error;
      this.seen.push(note.message);
      return this.inner.append(note);
    } finally {
      this.inFlight--;
    }
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('RouteChat over an asynchronous store', () => {
  let server: grpc.Server;
  let client: RouteGuideClient;
  let store: SlowStore;

  beforeEach(async () => {
    store = new SlowStore();
    server = new grpc.Server();
    const { proto } = loadRouteGuideProto();
    server.addService(
      proto.routeguide.RouteGuide.service,
      createRouteGuideService({
        features: loadFeatureDatabase(CANONICAL_FILE),
        notes: store,
        logger: createLogger('silent'),
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    client = new proto.routeguide.RouteGuide(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
  });

  afterEach(() => {
    client.close();
    server.forceShutdown();
  });

  it('handles the notes of one stream one at a time, in order, replies in order', async () => {
    const here = { latitude: 1, longitude: 2 };
    const messages = Array.from({ length: 60 }, (_, i) => `m${i}`);
    const replies = await routeChat(
      client,
      messages.map((message) => ({ location: here, message })),
    );
    expect(store.seen).toEqual(messages);
    expect(store.maxInFlight).toBe(1);
    // Note i gets back notes 0..i-1: the concatenation of 0..i-1 prefixes.
    const expected = messages.flatMap((_, i) => messages.slice(0, i));
    expect(replies.map((n) => n.message)).toEqual(expected);
  });

  it('answers UNAVAILABLE when the store is unavailable, after the replies already owed', async () => {
    store.fail = (note) =>
      note.message === 'bad' ? new NotesUnavailableError({ kind: 'unreachable' }) : undefined;
    const here = { latitude: 3, longitude: 4 };
    const chat = openChat(client);
    for (const message of ['a', 'b', 'bad', 'never']) chat.call.write({ location: here, message });
    chat.call.end();
    await expect(chat.done).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: 'notes store unavailable',
    });
    expect(chat.received.map((n) => n.message)).toEqual(['a']);
    expect(store.seen).toEqual(['a', 'b']);
  });

  it('answers INTERNAL for any other store fault, and keeps serving', async () => {
    store.fail = (note) => (note.message === 'boom' ? new Error('disk on fire') : undefined);
    const here = { latitude: 5, longitude: 6 };
    await expect(routeChat(client, [{ location: here, message: 'boom' }])).rejects.toMatchObject({
      code: grpc.status.INTERNAL,
    });
    expect(await routeChat(client, [{ location: here, message: 'fine' }])).toEqual([]);
  });

  it('answers INVALID_ARGUMENT for a note without a location, naming it', async () => {
    await expect(
      routeChat(client, [
        { location: { latitude: 1, longitude: 1 }, message: 'a' },
        { message: 'b' },
      ]),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'note[1].location is required',
    });
  });
});

import { WebSocket } from 'ws';
import type { RedisNotesStore } from '../../src/stores/redis-notes';
import { eventually } from '../helpers/calls';
import { RedisServer } from '../helpers/redis-server';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/** A RouteChat WebSocket: what it received so far, and how it closed. */
class ChatSocket {
  readonly received: Record<string, unknown>[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly socket: WebSocket;

  private constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data: Buffer) =>
      this.received.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    this.closed = new Promise((resolve) =>
      this.socket.on('close', (code: number, reason: Buffer) =>
        resolve({ code, reason: reason.toString('utf8') }),
      ),
    );
  }

  /** Opens RouteChat on a server's REST port. */
  static async open(server: TestServer): Promise<ChatSocket> {
    const chat = new ChatSocket(`${server.restUrl.replace('http:', 'ws:')}/v1/notes:chat`);
    await new Promise<void>((resolve, reject) => {
      chat.socket.once('open', resolve);
      chat.socket.once('error', reject);
    });
    return chat;
  }

  send(note: object): void {
    this.socket.send(JSON.stringify(note));
  }

  /** The empty message: no more notes. Resolves with the close frame. */
  halfClose(): Promise<{ code: number; reason: string }> {
    this.socket.send('');
    return this.closed;
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/**
 * Two replicas sharing one real redis-server: RouteChat over WebSocket through replica A
 * stores notes that replica B replays to its own WebSocket client, and back.
 */
describe('WebSocket RouteChat across two replicas sharing Redis', () => {
  let redis: RedisServer;
  let replicas: TestServer[] = [];
  const sockets: ChatSocket[] = [];

  beforeAll(async () => {
    requireProgram(PROGRAMS.redisServer);
    redis = await RedisServer.onFreePort();
    await redis.start();
    for (const id of ['replica-a', 'replica-b']) {
      replicas.push(await startTestServer({ env: { REDIS_URL: redis.url, REPLICA_ID: id } }));
    }
    await eventually(
      () => replicas.every((r) => (r.app.notes as RedisNotesStore).connected),
      5000,
      'stores connected',
    );
  });

  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    for (const replica of replicas) await replica.close();
    replicas = [];
    await redis?.stop();
  });

  async function open(replica: TestServer): Promise<ChatSocket> {
    const socket = await ChatSocket.open(replica);
    sockets.push(socket);
    return socket;
  }

  it('a note sent through replica A is replayed to a client of replica B, and back', async () => {
    const [a, b] = replicas as [TestServer, TestServer];
    const here = { latitude: 424242, longitude: -737373 };
    const ok = { status: { code: 0, message: 'OK', details: [] } };

    // B's call is already open when A's note is stored: B reads Redis per note, not per call.
    const onB = await open(b);
    const onA = await open(a);
    onA.send({ location: here, message: 'from A' });
    expect(await onA.halfClose()).toEqual({ code: 1000, reason: 'OK' });
    expect(onA.received).toEqual([ok]);

    onB.send({ location: here, message: 'from B' });
    await eventually(() => onB.received.length >= 1, 5000, 'replay on B');
    expect(onB.received).toEqual([{ location: here, message: 'from A' }]);
    expect(await onB.halfClose()).toEqual({ code: 1000, reason: 'OK' });
    expect(onB.received.at(-1)).toEqual(ok);

    const againOnA = await open(a);
    againOnA.send({ location: here, message: 'from A again' });
    expect(await againOnA.halfClose()).toEqual({ code: 1000, reason: 'OK' });
    expect(againOnA.received).toEqual([
      { location: here, message: 'from A' },
      { location: here, message: 'from B' },
      ok,
    ]);
    const chats = (r: TestServer) =>
      r.app.calls.forMethod('/routeguide.RouteGuide/RouteChat', true, true).handled[0];
    expect([chats(a), chats(b)]).toEqual([2, 1]);
    console.log(
      `replica-b replayed ${JSON.stringify(onB.received[0])}; replica-a then replayed ${againOnA.received.length - 1} notes`,
    );
  });
});

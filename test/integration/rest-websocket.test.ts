import * as grpc from '@grpc/grpc-js';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../helpers/server';

interface Closed {
  readonly messages: unknown[];
  readonly code: number;
  readonly reason: string;
}

/** Opens a WebSocket, runs `talk` once it is open, resolves with what came back and the close. */
function chat(
  url: string,
  talk: (ws: WebSocket, messages: unknown[]) => void,
  options: { headers?: Record<string, string> } = {},
): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages: unknown[] = [];
    ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as unknown));
    ws.on('open', () => talk(ws, messages));
    ws.on('close', (code, reason) => resolve({ messages, code, reason: reason.toString() }));
    ws.on('error', reject);
  });
}

const note = (message: string, latitude = 77) =>
  JSON.stringify({ location: { latitude, longitude: 1 }, message });

describe('RouteChat over WebSocket', () => {
  let server: TestServer;
  let wsUrl: string;
  beforeAll(async () => {
    server = await startTestServer({
      env: { AUTH_TOKEN: 'sesame', MAX_RECEIVE_MESSAGE_BYTES: '4096' },
    });
    wsUrl = `${server.restUrl.replace('http', 'ws')}/v1/notes:chat`;
  });
  afterAll(() => server.close());

  it('is full duplex: each note is answered with the replay before the next is sent', async () => {
    const closed = await chat(`${wsUrl}?access_token=sesame`, (ws, messages) => {
      ws.send(note('one'));
      ws.send(note('two'));
      // The replay of "two" (one earlier note) arrives while the socket stays open.
      const wait = setInterval(() => {
        if (messages.length < 1) return;
        clearInterval(wait);
        ws.send(note('three'));
        ws.send(''); // half-close: no more notes
      }, 10);
    });
    expect(closed.messages).toEqual([
      { location: { latitude: 77, longitude: 1 }, message: 'one' },
      { location: { latitude: 77, longitude: 1 }, message: 'one' },
      { location: { latitude: 77, longitude: 1 }, message: 'two' },
      { status: { code: 0, message: 'OK', details: [] } },
    ]);
    expect(closed.code).toBe(1000);
    let ok = 0;
    for (const m of server.app.calls.all()) if (m.method === 'RouteChat') ok = m.handled[0]!;
    expect(ok).toBe(1);
  });

  it('accepts the Authorization header too, and refuses without a token (close 4016)', async () => {
    const withHeader = await chat(wsUrl, (ws) => ws.send(''), {
      headers: { authorization: 'Bearer sesame' },
    });
    expect(withHeader.code).toBe(1000);
    const refused = await chat(wsUrl, () => undefined);
    expect(refused.code).toBe(4000 + grpc.status.UNAUTHENTICATED);
    expect(refused.messages).toEqual([
      { status: { code: 16, message: expect.stringMatching(/bearer/i) as unknown, details: [] } },
    ]);
  });

  it('a bad note ends the call with INVALID_ARGUMENT (4003) naming the field', async () => {
    const closed = await chat(`${wsUrl}?access_token=sesame`, (ws) => {
      ws.send(note('fine'));
      ws.send(JSON.stringify({ location: { latitude: 'north' } }));
    });
    expect(closed.code).toBe(4003);
    expect(closed.reason).toMatch(/^message\[1\]\.location\.latitude/);
    const badJson = await chat(`${wsUrl}?access_token=sesame`, (ws) => ws.send('{'));
    expect(badJson.code).toBe(4003);
    const outOfRange = await chat(`${wsUrl}?access_token=sesame`, (ws) =>
      ws.send(note('x', 950_000_000)),
    );
    expect(outOfRange.code).toBe(4003);
  });

  it('a message over MAX_RECEIVE_MESSAGE_BYTES closes the socket (1009), counted RESOURCE_EXHAUSTED', async () => {
    const exhausted = () =>
      server.app.calls.forMethod('/routeguide.RouteGuide/RouteChat', true, true).handled[
        grpc.status.RESOURCE_EXHAUSTED
      ]!;
    const before = exhausted();
    const closed = await chat(`${wsUrl}?access_token=sesame`, (ws) =>
      ws.send(note('x'.repeat(5000))),
    );
    expect(closed.code).toBe(1009);
    expect(exhausted() - before).toBe(1);
  });

  /** The HTTP status of an upgrade sent with `origin`, or 101 once it opened. */
  const upgradeStatus = (origin: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}?access_token=sesame`, { origin });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', reject);
    });

  it('refuses an Origin of another site (403) and accepts its own origin', async () => {
    const chats = () => server.app.calls.forMethod('/routeguide.RouteGuide/RouteChat', true, true);
    const before = chats().started;
    await expect(upgradeStatus('https://evil.example')).resolves.toBe(403);
    await expect(upgradeStatus('null')).resolves.toBe(403);
    expect(chats().started).toBe(before);
    await expect(upgradeStatus(server.restUrl)).resolves.toBe(101);
  });

  it('refuses upgrades on other paths with 404', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${server.restUrl.replace('http', 'ws')}/v1/features`);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', reject);
      }),
    ).resolves.toBe(404);
  });
});

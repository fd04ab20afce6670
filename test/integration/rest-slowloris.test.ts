import * as net from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server';

/** Resolves with the ms until the server closes `socket`. */
function closedAfter(socket: net.Socket, started: number): Promise<number> {
  return new Promise((resolve) => {
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(Date.now() - started));
  });
}

describe('REST port connection guard', () => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        CONNECTION_HANDSHAKE_TIMEOUT_MS: '400',
        REST_MAX_CONNECTIONS: '3',
        REST_MAX_CONNECTIONS_PER_ADDRESS: '3',
      },
    });
    port = server.app.restPort!;
  });
  afterAll(() => server.close());

  const guard = () => server.app.connectionGuards.find((g) => g.port === 'rest')!;

  it('closes a request head sent byte by byte at the handshake deadline (slowloris)', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    const closed = closedAfter(socket, started);
    const head = 'GET /v1/features/1/2 HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
    let i = 0;
    const drip = setInterval(() => {
      if (!socket.destroyed && i < head.length) socket.write(head[i++]!);
    }, 20);
    const ms = await closed;
    clearInterval(drip);
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(3000);
    expect(guard().closed('handshake_timeout')).toBeGreaterThanOrEqual(1);
  });

  it('closes connections beyond REST_MAX_CONNECTIONS at accept', async () => {
    const open = [0, 1, 2].map(() => net.connect(port, '127.0.0.1'));
    await Promise.all(open.map((s) => new Promise((r) => s.once('connect', r))));
    const before = guard().closed('limit');
    const extra = net.connect(port, '127.0.0.1');
    const ms = await closedAfter(extra, Date.now());
    expect(ms).toBeLessThan(2000);
    expect(guard().closed('limit')).toBe(before + 1);
    for (const s of open) s.destroy();
  });
});

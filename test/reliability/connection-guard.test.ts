import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { probeHealth } from '../../src/healthcheck';
import { guardConnections } from '../../src/grpc/http2-sessions';
import { ConnectionGuard } from '../../src/net/connection-guard';
import { eventually, getFeature } from '../helpers/calls';
import { scrape } from '../helpers/ops';
import { connect, encodePoint, frame, openRawStream, rawCall } from '../helpers/raw-grpc';
import {
  H2_HANDSHAKE,
  H2_PREFACE,
  rapidResetPair,
  rawConnect,
  within,
  type RawSocket,
} from '../helpers/raw-connections';
import { createTestPki } from '../helpers/certificates';
import { startTestServer, type TestServer } from '../helpers/server';
import { loadRouteGuideProto } from '../../src/protocol/proto';

const HANDSHAKE_MS = 500;
const KNOWN_POINT = { latitude: 409146138, longitude: -746188906 };

let server: TestServer | undefined;
const sockets: RawSocket[] = [];
const sessions: http2.ClientHttp2Session[] = [];

afterEach(async () => {
  for (const { socket } of sockets.splice(0)) socket.destroy();
  for (const session of sessions.splice(0)) session.destroy();
  await server?.close();
  server = undefined;
});

async function start(env: Record<string, string>): Promise<TestServer> {
  server = await startTestServer({ env: { HEALTH_PORT: '0', ...env } });
  return server;
}

async function open(port: number, localAddress?: string): Promise<RawSocket> {
  const socket = await rawConnect(port, localAddress);
  sockets.push(socket);
  return socket;
}

function guardOf(app: TestServer['app'], port: string): ConnectionGuard {
  return app.connectionGuards.find((g) => g.port === port)!;
}

async function session(address: string, localAddress?: string): Promise<http2.ClientHttp2Session> {
  const s = await connect(address, localAddress);
  s.on('error', () => undefined);
  sessions.push(s);
  return s;
}

describe('connection guard: handshake deadline', () => {
  it('closes preface-less sockets on the gRPC, health and metrics ports after the deadline', async () => {
    const { app, address } = await start({ CONNECTION_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS) });
    const ports = { grpc: app.port, health: app.healthPort!, metrics: app.metricsPort! };
    const silent = await Promise.all(Object.values(ports).map((port) => open(port)));
    // A well-behaved HTTP/2 client on the same port is not touched by the deadline.
    const good = await session(address);
    const times = await Promise.all(silent.map((s) => within(s.closed, 5000)));
    console.log(`preface-less sockets closed after ${times.join(', ')} ms`);
    for (const ms of times) {
      expect(ms).toBeGreaterThanOrEqual(HANDSHAKE_MS - 50);
      expect(ms).toBeLessThan(HANDSHAKE_MS + 2500);
    }
    expect(good.closed || good.destroyed).toBe(false);
    expect(await getFeature(server!.client, KNOWN_POINT)).toMatchObject({
      name: expect.any(String),
    });
    for (const port of Object.keys(ports)) {
      expect(guardOf(app, port).closed('handshake_timeout')).toBe(1);
    }
    const metrics = await scrape(app.metricsPort!);
    for (const port of Object.keys(ports)) {
      expect(
        metrics.value('routeguide_connections_closed_total', { port, reason: 'handshake_timeout' }),
      ).toBe(1);
    }
    // The scrape's own connection is open on the metrics port, the good session on gRPC.
    expect(metrics.value('routeguide_connections_open', { port: 'grpc' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(metrics.value('routeguide_connections_open', { port: 'metrics' })).toBe(1);
  });

  it('cuts a preface sent byte by byte (slowloris) by the same deadline', async () => {
    const { app } = await start({ CONNECTION_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS) });
    const slow = await open(app.port);
    const bytes = [...H2_HANDSHAKE];
    const drip = setInterval(() => {
      const next = bytes.shift();
      if (next === undefined || slow.isClosed()) clearInterval(drip);
      else slow.socket.write(Buffer.from([next]));
    }, 40);
    const ms = await within(slow.closed, 5000);
    clearInterval(drip);
    console.log(`byte-by-byte preface closed after ${ms} ms, ${bytes.length} bytes unsent`);
    expect(ms).toBeLessThan(HANDSHAKE_MS + 2500);
    expect(bytes.length).toBeGreaterThan(0);
    expect(guardOf(app, 'grpc').closed('handshake_timeout')).toBe(1);
  });

  it('a client that completes the handshake byte-wise in time is kept', async () => {
    const { app } = await start({ CONNECTION_HANDSHAKE_TIMEOUT_MS: '2000' });
    const raw = await open(app.port);
    for (const byte of H2_HANDSHAKE.subarray(0, H2_PREFACE.length)) {
      raw.socket.write(Buffer.from([byte]));
    }
    raw.socket.write(H2_HANDSHAKE.subarray(H2_PREFACE.length));
    expect(await within(raw.closed, 3000)).toBeUndefined();
    expect(guardOf(app, 'grpc').closed('handshake_timeout')).toBe(0);
  });
});

describe('connection guard: handshake deadline under TLS', () => {
  it('closes sockets stuck before or after the TLS handshake; TLS clients keep their connection', async () => {
    const pki = createTestPki();
    try {
      const { app } = await start({
        CONNECTION_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS),
        TLS_CERT_FILE: pki.files.serverCert,
        TLS_KEY_FILE: pki.files.serverKey,
      });
      const { proto } = loadRouteGuideProto();
      const client = new proto.routeguide.RouteGuide(
        `127.0.0.1:${app.port}`,
        grpc.credentials.createSsl(pki.read('ca')),
        { 'grpc.ssl_target_name_override': 'localhost' },
      );
      try {
        await getFeature(client, KNOWN_POINT);
        const noHello = await open(app.port);
        // TLS done, ALPN h2, but no HTTP/2 preface.
        const noPreface = tls.connect({
          host: '127.0.0.1',
          port: app.port,
          servername: 'localhost',
          ALPNProtocols: ['h2'],
          ca: pki.read('ca'),
        });
        noPreface.on('error', () => undefined);
        noPreface.on('data', () => undefined); // reads the server's SETTINGS, and then the close
        await new Promise((resolve) => noPreface.once('secureConnect', resolve));
        const tlsStarted = Date.now();
        const tlsClosed = new Promise<number>((resolve) =>
          noPreface.once('close', () => resolve(Date.now() - tlsStarted)),
        );
        const times = [await within(noHello.closed, 5000), await within(tlsClosed, 5000)];
        console.log(
          `TLS port: no ClientHello closed after ${times[0]} ms, no preface ${times[1]} ms`,
        );
        for (const ms of times) expect(ms).toBeLessThan(HANDSHAKE_MS + 2500);
        await getFeature(client, KNOWN_POINT);
        // The client's connection (handshaken long before) was not counted or cut.
        expect(guardOf(app, 'grpc').closed('handshake_timeout')).toBe(2);
        expect(guardOf(app, 'grpc').open).toBe(1);
      } finally {
        client.close();
      }
    } finally {
      pki.remove();
    }
  });
});

describe('connection guard: idle timeout', () => {
  it('sends GOAWAY to a connection without streams; one with an open Watch stays', async () => {
    const idleMs = 1000;
    const { app, address } = await start({ CONNECTION_IDLE_TIMEOUT_MS: String(idleMs) });
    // Before the connections open: the server's idle timers start later than this.
    const started = Date.now();
    const idle = await session(address);
    const busy = await session(address);
    /** The first GOAWAY of each session (closing sends another, without debug data). */
    const goaways: string[] = [];
    const goaway = (s: http2.ClientHttp2Session, name: string) =>
      new Promise<number>((resolve) =>
        s.once('goaway', (code, _last, data) => {
          goaways.push(`${name}:${code}:${data?.toString()}`);
          resolve(Date.now());
        }),
      );
    const idleGoaway = goaway(idle, 'idle');
    const busyGoaway = goaway(busy, 'busy');
    const watch = openRawStream(busy, '/grpc.health.v1.Health/Watch', frame(Buffer.alloc(0)));
    const at = await within(idleGoaway, 5000);
    expect(at).toBeDefined();
    expect(at! - started).toBeGreaterThanOrEqual(idleMs - 50);
    await within(new Promise((resolve) => idle.once('close', resolve)), 2000);
    expect(idle.destroyed || idle.closed).toBe(true);
    // Two more idle periods with the Watch open: no GOAWAY for the busy connection.
    expect(await within(busyGoaway, 2 * idleMs)).toBeUndefined();
    expect(busy.closed).toBe(false);
    // Once the stream ends, the busy connection is idle too.
    watch.stream.close(http2.constants.NGHTTP2_CANCEL);
    expect(await within(busyGoaway, 5000)).toBeDefined();
    console.log(`GOAWAYs: ${goaways.join(', ')}`);
    expect(goaways).toEqual(['idle:0:max_idle', 'busy:0:max_idle']);
    expect(guardOf(app, 'grpc').closed('idle')).toBe(2);
    const metrics = await scrape(app.metricsPort!);
    expect(
      metrics.value('routeguide_connections_closed_total', { port: 'grpc', reason: 'idle' }),
    ).toBe(2);
  });
});

describe('connection guard: half-closed peers', () => {
  it('destroys a socket whose peer keeps its side open after the server closed the connection', async () => {
    const idleMs = 300;
    const { app } = await start({ CONNECTION_IDLE_TIMEOUT_MS: String(idleMs) });
    const port = app.port;
    // A peer that answers the server's FIN with nothing (allowHalfOpen): Node would wait forever.
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const ended = new Promise<number>((resolve) => socket.once('end', () => resolve(Date.now())));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(H2_HANDSHAKE);
    const guard = guardOf(app, 'grpc');
    try {
      // The idle GOAWAY closes the session, then the server ends its side (our 'end').
      const endAt = await within(ended, 5000);
      expect(endAt).toBeDefined();
      expect(guard.open).toBe(1);
      await eventually(() => guard.open === 0, 5000, 'the half-closed socket destroyed');
      const lingered = Date.now() - endAt!;
      console.log(`server FIN, then the socket destroyed after ~${lingered} ms`);
      // DEFAULT_CLOSE_LINGER_MS after the server's FIN, give or take the timers.
      expect(lingered).toBeGreaterThanOrEqual(1500);
      expect(guard.closed('half_closed')).toBe(1);
    } finally {
      socket.destroy();
    }
  });
});

describe('connection guard with max connection age', () => {
  it('leaves a connection draining after its age GOAWAY alone while its stream runs', async () => {
    const idleMs = 800;
    const { app, address } = await start({
      MAX_CONNECTION_AGE_MS: '400',
      CONNECTION_IDLE_TIMEOUT_MS: String(idleMs),
    });
    const busy = await session(address);
    const watch = openRawStream(busy, '/grpc.health.v1.Health/Watch', frame(Buffer.alloc(0)));
    const goaway = await within(
      new Promise<string>((resolve) =>
        busy.once('goaway', (_code, _last, data) => resolve(String(data))),
      ),
      5000,
    );
    expect(goaway).toBe('max_age');
    // Well past the idle timeout: the draining connection and its Watch are still there.
    await new Promise((resolve) => setTimeout(resolve, 2 * idleMs));
    expect(busy.destroyed).toBe(false);
    expect(watch.stream.closed).toBe(false);
    expect(guardOf(app, 'grpc').closed('idle')).toBe(0);
    // The stream ends: max age closes the drained connection.
    watch.stream.close(http2.constants.NGHTTP2_CANCEL);
    await within(new Promise((resolve) => busy.once('close', resolve)), 5000);
    expect(busy.destroyed).toBe(true);
  });
});

describe('connection guard: connection cap', () => {
  it('closes new connections at once when full; health still answers; accepts again after', async () => {
    const cap = 20;
    const { app } = await start({
      MAX_CONNECTIONS: String(cap),
      // The whole cap from one address (the per-address share is the next test's).
      MAX_CONNECTIONS_PER_ADDRESS: String(cap),
      CONNECTION_HANDSHAKE_TIMEOUT_MS: '15000',
    });
    const attackers = await Promise.all(Array.from({ length: cap }, () => open(app.port)));
    await eventually(() => guardOf(app, 'grpc').open === cap);
    const extra = await open(app.port);
    const ms = await within(extra.closed, 2000);
    console.log(`connection over the cap closed after ${ms} ms`);
    expect(ms).toBeDefined();
    expect(attackers.every((a) => !a.isClosed())).toBe(true);
    // A fresh client cannot get in, but the health port (its own cap) answers.
    expect(await probeHealth({ port: app.healthPort!, timeoutMs: 2000 })).toBe('SERVING');
    const metrics = await scrape(app.metricsPort!);
    expect(metrics.value('routeguide_connections_open', { port: 'grpc' })).toBe(cap);
    expect(
      metrics.value('routeguide_connections_closed_total', { port: 'grpc', reason: 'limit' }),
    ).toBeGreaterThanOrEqual(1);
    // The attacker leaves: the port accepts again.
    for (const { socket } of attackers) socket.destroy();
    await eventually(() => guardOf(app, 'grpc').open === 0);
    const client = new (
      server!.client.constructor as new (
        address: string,
        credentials: grpc.ChannelCredentials,
      ) => TestServer['client']
    )(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
    try {
      expect(await getFeature(client, KNOWN_POINT)).toMatchObject({ name: expect.any(String) });
    } finally {
      client.close();
    }
  });
});

describe('connection guard: share per source address', () => {
  it('one address gets half the cap by default; other addresses still get in', async () => {
    const cap = 20;
    const { app } = await start({
      MAX_CONNECTIONS: String(cap),
      CONNECTION_HANDSHAKE_TIMEOUT_MS: '15000',
    });
    const guard = guardOf(app, 'grpc');
    // An attacker on 127.0.0.2 (another loopback address) tries to take the whole cap.
    const attackers = await Promise.all(
      Array.from({ length: cap }, () => open(app.port, '127.0.0.2')),
    );
    await eventually(() => attackers.filter((a) => a.isClosed()).length === cap / 2);
    expect(guard.open).toBe(cap / 2);
    expect(guard.closed('address_limit')).toBe(cap / 2);
    expect(guard.closed('limit')).toBe(0);
    // Clients from other addresses connect and call, each on a new connection.
    for (const localAddress of ['127.0.0.1', '127.0.0.3']) {
      const client = await session(`127.0.0.1:${app.port}`, localAddress);
      const body = frame(Buffer.from(encodePoint(KNOWN_POINT)));
      const outcome = await rawCall(client, '/routeguide.RouteGuide/GetFeature', body);
      expect(outcome).toMatchObject({ httpStatus: 200, grpcStatus: 0 });
      client.close();
    }
    // The attacker's held connections are untouched; its share frees as they close.
    expect(attackers.filter((a) => !a.isClosed()).length).toBe(cap / 2);
    for (const { socket } of attackers) socket.destroy();
    await eventually(() => guard.open <= 1);
    const again = await open(app.port, '127.0.0.2');
    expect(await within(again.closed, 300)).toBeUndefined();
    const metrics = await scrape(app.metricsPort!);
    expect(
      metrics.value('routeguide_connections_closed_total', {
        port: 'grpc',
        reason: 'address_limit',
      }),
    ).toBe(cap / 2);
  });
});

describe('connection guard: the gate in front of Node', () => {
  it("fails loudly when a server has no 'connection' listener of Node's to put the gate before", () => {
    const guard = new ConnectionGuard({ port: 'test', maxConnections: 10 });
    const bare = net.createServer();
    expect(() => guard.attachHttp2(bare as unknown as http2.Http2Server)).toThrow(
      /no connection listener to gate/,
    );
    // Node's own servers have one: HTTP/2 (plaintext and TLS), as grpc-js builds them.
    expect(() => guard.attachHttp2(http2.createServer())).not.toThrow();
    expect(() => guard.attachHttp2(http2.createSecureServer({}))).not.toThrow();
  });
});

describe('connection guard: HTTP/2 rapid reset', () => {
  it('a connection resetting streams as fast as it opens them is closed; others are served', async () => {
    const { app, client } = await start({});
    await getFeature(client, KNOWN_POINT);
    const attacker = await open(app.port);
    attacker.socket.write(H2_HANDSHAKE);
    let sent = 0;
    const path = '/routeguide.RouteGuide/GetFeature';
    // Batches of pairs, paced by the socket's drain, until the server closes the connection.
    while (!attacker.isClosed() && sent < 50_000) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 100; i++) batch.push(rapidResetPair(2 * (sent + i) + 1, path));
      sent += 100;
      if (!attacker.socket.write(Buffer.concat(batch))) {
        await within(new Promise((resolve) => attacker.socket.once('drain', resolve)), 1000);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const closed = await within(attacker.closed, 5000);
    console.log(`rapid reset: connection closed after ${sent} HEADERS+RST_STREAM pairs`);
    expect(closed).toBeDefined();
    expect(sent).toBeLessThan(50_000);
    expect(await getFeature(client, KNOWN_POINT)).toMatchObject({ name: expect.any(String) });
  });
});

describe('connection guard wiring', () => {
  it('fails loudly when grpc-js no longer exposes its HTTP/2 servers', () => {
    const guard = new ConnectionGuard({ port: 'grpc', maxConnections: 1 });
    expect(() => guardConnections(new grpc.Server(), guard)).toThrow(/no bound HTTP\/2 server/);
  });
});

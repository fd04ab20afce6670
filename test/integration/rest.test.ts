import * as http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { FeatureDatabase } from '../../src/routeguide/features';
import { syntheticFeatures } from '../helpers/features';
import { httpRequest, ndjson, sseEvents } from '../helpers/rest';
import { startTestServer, type TestServer } from '../helpers/server';

const BOX =
  'lo.latitude=400000000&lo.longitude=-750000000&hi.latitude=420000000&hi.longitude=-730000000';
const REPLICA = 'grpc-metadata-x-routeguide-replica';

/** ListFeatures over gRPC, for comparing what REST returns with it. */
function grpcList(server: TestServer, rect: object): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const out: unknown[] = [];
    const call = server.client.ListFeatures(rect);
    call.on('data', (f: unknown) => out.push(f));
    call.on('end', () => resolve(out));
    call.on('error', reject);
  });
}

/** Waits (at most 5 s) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await delay(50);
}

function handled(server: TestServer, method: string, code: grpc.status): number {
  for (const m of server.app.calls.all()) if (m.method === method) return m.handled[code] ?? 0;
  return 0;
}

describe('REST gateway', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('GetFeature: proto3 JSON of the feature, the replica header, counted in the gRPC series', async () => {
    const before = handled(server, 'GetFeature', grpc.status.OK);
    const response = await fetch(`${server.restUrl}/v1/features/409146138/-746188906`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get(REPLICA)).toBe('test-replica');
    expect(await response.json()).toEqual({
      name: 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA',
      location: { latitude: 409146138, longitude: -746188906 },
    });
    // No feature there: the zero values are emitted, as gRPC's reply carries them.
    const empty = await fetch(`${server.restUrl}/v1/features/1/2`);
    expect(await empty.json()).toEqual({ name: '', location: { latitude: 1, longitude: 2 } });
    expect(handled(server, 'GetFeature', grpc.status.OK)).toBe(before + 2);
  });

  it('answers bad input with 400 and a google.rpc.Status naming the field', async () => {
    const notNumber = await fetch(`${server.restUrl}/v1/features/north/1`);
    expect(notNumber.status).toBe(400);
    expect(await notNumber.json()).toEqual({
      code: 3,
      message: expect.stringMatching(/^latitude: must be an int32/) as unknown,
      details: [],
    });
    // Valid JSON, invalid for the domain: the handler's INVALID_ARGUMENT.
    const outOfRange = await fetch(`${server.restUrl}/v1/features/900000001/0`);
    expect(outOfRange.status).toBe(400);
    expect(((await outOfRange.json()) as { message: string }).message).toMatch(/latitude/);
    const badQuery = await fetch(`${server.restUrl}/v1/features?lo.latitude=1.5`);
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { message: string }).message).toMatch(/^lo\.latitude/);
    const unknownField = await fetch(`${server.restUrl}/v1/features?lo.altitude=1`);
    expect(unknownField.status).toBe(400);
  });

  it('404 for an unknown route, 405 with Allow for a wrong method', async () => {
    const missing = await fetch(`${server.restUrl}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: number }).code).toBe(5);
    const wrong = await fetch(`${server.restUrl}/v1/routes`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const wrongGet = await fetch(`${server.restUrl}/v1/features/1/2`, { method: 'DELETE' });
    expect(wrongGet.status).toBe(405);
    expect(wrongGet.headers.get('allow')).toBe('GET');
  });

  it('ListFeatures as NDJSON: the same features as gRPC, one {"result":…} line each', async () => {
    const viaGrpc = await grpcList(server, {
      lo: { latitude: 400000000, longitude: -750000000 },
      hi: { latitude: 420000000, longitude: -730000000 },
    });
    const response = await httpRequest(`${server.restUrl}/v1/features?${BOX}`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    const lines = ndjson(response.body);
    expect(lines).toHaveLength(viaGrpc.length);
    expect(lines.map((l) => l['result'])).toEqual(viaGrpc);
    expect(viaGrpc.length).toBeGreaterThan(10);
  });

  it('ListFeatures as Server-Sent Events: result events, then end', async () => {
    const response = await httpRequest(`${server.restUrl}/v1/features?${BOX}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(response.headers['content-type']).toBe('text/event-stream');
    const events = sseEvents(response.body);
    expect(events.length).toBeGreaterThan(10);
    expect(events.slice(0, -1).every((e) => e.event === 'result')).toBe(true);
    expect(events.at(-1)).toEqual({ event: 'end', data: {} });
  });

  it('a stream failing before its first message answers a plain JSON error', async () => {
    const response = await fetch(`${server.restUrl}/v1/features?lo.latitude=950000000`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(((await response.json()) as { message: string }).message).toMatch(/^lo/);
  });

  it('RecordRoute from NDJSON and from a JSON array, both spellings in, lowerCamelCase out', async () => {
    const points = [
      { latitude: 407838351, longitude: -746143763 },
      { latitude: 408122808, longitude: -743999179 },
    ];
    const lines = await fetch(`${server.restUrl}/v1/routes`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: points.map((p) => JSON.stringify(p)).join('\n'),
    });
    expect(lines.status).toBe(200);
    const summary = (await lines.json()) as Record<string, number>;
    expect(summary).toMatchObject({ pointCount: 2, featureCount: 2, distance: 18327 });
    expect(Object.keys(summary).sort()).toEqual(
      ['distance', 'elapsedTime', 'featureCount', 'pointCount'].sort(),
    );
    const array = await fetch(`${server.restUrl}/v1/routes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ latitude: '407838351', longitude: -746143763, extra: 1 }]),
    });
    expect(await array.json()).toMatchObject({ pointCount: 1, featureCount: 1 });
    const empty = await fetch(`${server.restUrl}/v1/routes`, { method: 'POST', body: '' });
    expect(await empty.json()).toEqual({
      pointCount: 0,
      featureCount: 0,
      distance: 0,
      elapsedTime: 0,
    });
  });

  it('client streams: bad JSON is 400 naming the message, an oversized one 413', async () => {
    const bad = await fetch(`${server.restUrl}/v1/routes`, {
      method: 'POST',
      body: '{"latitude":1,"longitude":1}\n{"latitude":\n',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/^message 1: invalid JSON/);
    const wrongType = await fetch(`${server.restUrl}/v1/routes`, {
      method: 'POST',
      body: '{"latitude":true}\n',
    });
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as { message: string }).message).toMatch(
      /^message\[0\]\.latitude/,
    );
    const huge = await fetch(`${server.restUrl}/v1/routes`, {
      method: 'POST',
      body: `{"latitude":1,"x":"${'a'.repeat(1024 * 1024 + 10)}"}\n`,
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { code: number }).code).toBe(8);
  });

  it('a client stream failing early answers at once and closes the connection, unread', async () => {
    const started = Date.now();
    const result = await new Promise<{ status: number; closed: boolean }>((resolve, reject) => {
      const request = http.request(
        `${server.restUrl}/v1/routes`,
        { method: 'POST', agent: false },
        (response) => {
          response.resume();
          response.on('end', () => {
            clearInterval(more);
            request.socket?.once('close', () =>
              resolve({ status: response.statusCode!, closed: true }),
            );
          });
        },
      );
      request.on('error', () => undefined);
      request.write('{"latitude":950000000,"longitude":0}\n');
      // The client would go on sending points for ever.
      const more = setInterval(() => request.write('{"latitude":1,"longitude":1}\n'), 5);
      setTimeout(() => reject(new Error('no answer')), 5000).unref();
    });
    expect(result).toEqual({ status: 400, closed: true });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('RouteChat over plain HTTP: the whole body, then the replays as NDJSON', async () => {
    const note = (message: string) => ({
      location: { latitude: 123, longitude: 456 },
      message,
    });
    const response = await httpRequest(`${server.restUrl}/v1/notes:chat`, {
      method: 'POST',
      body: [note('first'), note('second'), note('third')].map((n) => JSON.stringify(n)).join('\n'),
    });
    expect(response.status).toBe(200);
    expect(ndjson(response.body).map((l) => (l['result'] as { message: string }).message)).toEqual([
      'first',
      'first',
      'second',
    ]);
  });

  it('Grpc-Timeout: malformed is 400; expiring before any message is 504', async () => {
    const bad = await fetch(`${server.restUrl}/v1/features/1/2`, {
      headers: { 'grpc-timeout': 'soon' },
    });
    expect(bad.status).toBe(400);
    // A RouteChat whose body never ends: nothing to answer until the deadline.
    const started = Date.now();
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        `${server.restUrl}/v1/notes:chat`,
        { method: 'POST', headers: { 'grpc-timeout': '300m' }, agent: false },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            request.destroy();
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      request.on('error', reject);
      request.write('{"location":{"latitude":9,"longitude":9},"message":"x"}\n');
    });
    expect(response.status).toBe(504);
    expect(JSON.parse(response.body)).toMatchObject({ code: 4 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('/healthz follows the health service: 200 SERVING, 503 NOT_SERVING', async () => {
    const up = await fetch(`${server.restUrl}/healthz`);
    expect([up.status, await up.json()]).toEqual([200, { status: 'SERVING' }]);
    server.app.health.setServing(false);
    try {
      const down = await fetch(`${server.restUrl}/healthz`);
      expect([down.status, await down.json()]).toEqual([503, { status: 'NOT_SERVING' }]);
    } finally {
      server.app.health.setServing(true);
    }
  });
});

describe('REST gateway with AUTH_TOKEN and CORS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { AUTH_TOKEN: 'sesame', REST_CORS_ORIGINS: 'https://app.example' },
    });
  });
  afterAll(() => server.close());

  it('401 with WWW-Authenticate without the token; the token passes; health stays open', async () => {
    const refused = await fetch(`${server.restUrl}/v1/features/1/2`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await refused.json()) as { code: number }).code).toBe(16);
    const wrong = await fetch(`${server.restUrl}/v1/features/1/2`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${server.restUrl}/v1/features/1/2`, {
      headers: { authorization: 'Bearer sesame' },
    });
    expect(ok.status).toBe(200);
    expect((await fetch(`${server.restUrl}/healthz`)).status).toBe(200);
    expect(handled(server, 'GetFeature', grpc.status.UNAUTHENTICATED)).toBe(2);
  });

  it('access_token authenticates an EventSource request, and no other', async () => {
    const sse = await httpRequest(`${server.restUrl}/v1/features?${BOX}&access_token=sesame`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(sse.status).toBe(200);
    expect(sseEvents(sse.body).at(-1)?.event).toBe('end');
    const plain = await fetch(`${server.restUrl}/v1/features/1/2?access_token=sesame`);
    expect(plain.status).toBe(400);
  });

  it('CORS: preflight answered for a listed origin; headers exposed; others get none', async () => {
    const preflight = await fetch(`${server.restUrl}/v1/features/1/2`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization, grpc-timeout',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Grpc-Timeout/);
    const refused = await fetch(`${server.restUrl}/v1/features/1/2`, {
      headers: { origin: 'https://app.example' },
    });
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/);
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/grpc-metadata-/);
    const other = await fetch(`${server.restUrl}/v1/features/1/2`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('REST gateway flow control, admission and shutdown', () => {
  const COUNT = 200_000;
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      // Long names: the kernel's socket buffers (megabytes on loopback) hold fewer features.
      features: FeatureDatabase.fromFeatures(
        syntheticFeatures(COUNT, (i) => `${'x'.repeat(200)}${i}`),
      ),
      env: { MAX_STREAMING_CALLS: '2', REST_MAX_CONNECTIONS: '8' },
    });
  });
  afterAll(() => server.close());

  const sentListFeatures = (): number => {
    for (const m of server.app.calls.all()) if (m.method === 'ListFeatures') return m.sent;
    return 0;
  };
  const all = 'lo.latitude=0&lo.longitude=0&hi.latitude=300000&hi.longitude=0';

  /** Opens ListFeatures of every feature and does not read it until `read()`. */
  function stalledList(): Promise<{ response: http.IncomingMessage; request: http.ClientRequest }> {
    return new Promise((resolve, reject) => {
      const request = http.get(
        `${server.restUrl}/v1/features?${all}`,
        { agent: false },
        (response) => {
          response.pause();
          resolve({ response, request });
        },
      );
      request.on('error', reject);
    });
  }

  it('a reader that stops stops the stream; reading again gets every feature', async () => {
    const before = sentListFeatures();
    const { response } = await stalledList();
    await delay(500);
    const stalledAt = sentListFeatures() - before;
    await delay(300);
    // Stopped: nothing more produced while nobody reads, and far from the whole database.
    expect(sentListFeatures() - before).toBe(stalledAt);
    expect(stalledAt).toBeLessThan(COUNT / 4);
    let lines = 0;
    let tail = '';
    response.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString();
      const parts = text.split('\n');
      tail = parts.pop()!;
      lines += parts.length;
    });
    response.resume();
    await new Promise((resolve) => response.once('end', resolve));
    expect(lines).toBe(COUNT);
  }, 30_000);

  it('streams count against MAX_STREAMING_CALLS: the next is 503 with Retry-After', async () => {
    const first = await stalledList();
    const second = await stalledList();
    try {
      const refused = await fetch(`${server.restUrl}/v1/features?${all}`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { code: number }).code).toBe(14);
      // Unary calls are not limited.
      expect((await fetch(`${server.restUrl}/v1/features/1/0`)).status).toBe(200);
    } finally {
      first.request.destroy();
      second.request.destroy();
    }
    // Released once their clients went away: streams are admitted again.
    await until(() => server.app.admission.active === 0);
    expect(server.app.admission.active).toBe(0);
  }, 30_000);

  it('a client that goes away cancels its call (counted Canceled)', async () => {
    const before = handled(server, 'ListFeatures', grpc.status.CANCELLED);
    const { request } = await stalledList();
    request.destroy();
    await until(() => handled(server, 'ListFeatures', grpc.status.CANCELLED) > before);
    expect(handled(server, 'ListFeatures', grpc.status.CANCELLED)).toBe(before + 1);
  });
});

describe('REST gateway shutdown', () => {
  it('drains: a stalled stream is cancelled after the grace, the port closes', async () => {
    const server = await startTestServer({
      features: FeatureDatabase.fromFeatures(syntheticFeatures(100_000)),
    });
    const url = server.restUrl;
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get(
          `${url}/v1/features?lo.latitude=0&lo.longitude=0&hi.latitude=200000&hi.longitude=0`,
          { agent: false },
          (r) => {
            r.pause();
            resolve(r);
          },
        )
        .on('error', reject);
    });
    const started = Date.now();
    server.client.close();
    await server.app.shutdown(300);
    expect(Date.now() - started).toBeLessThan(5000);
    // The client sees the stream cut short (no clean end): it was cancelled, not completed.
    const ended = new Promise<boolean>((resolve) => {
      response.once('end', () => resolve(true));
      response.once('error', () => resolve(false));
    });
    response.resume();
    expect(await ended).toBe(false);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 30_000);
});

describe('REST gateway under the memory budget', () => {
  it('refuses REST streams above the soft mark (503 + Retry-After); unary calls still work', async () => {
    const server = await startTestServer({
      env: { MEMORY_LIMIT_BYTES: '1000000000', RETRY_PUSHBACK_MS: '2500' },
      // 70 % of the budget: above the 60 % soft mark, below the 75 % hard mark.
      rss: () => 700_000_000,
    });
    try {
      const refused = await fetch(`${server.restUrl}/v1/features?${BOX}`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('3');
      expect(((await refused.json()) as { message: string }).message).toMatch(/memory/);
      expect(server.app.admission.refused.memory).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${server.restUrl}/v1/features/1/2`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('REST gateway above the memory hard mark', () => {
  it('sheds a stalled REST stream: its connection is reset, counted ResourceExhausted', async () => {
    let rss = 100_000_000;
    const server = await startTestServer({
      features: FeatureDatabase.fromFeatures(
        syntheticFeatures(200_000, (i) => `${'y'.repeat(200)}${i}`),
      ),
      env: { MEMORY_LIMIT_BYTES: '1000000000' },
      rss: () => rss,
    });
    try {
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get(
            `${server.restUrl}/v1/features?lo.latitude=0&lo.longitude=0&hi.latitude=300000&hi.longitude=0`,
            { agent: false },
            (r) => {
              r.pause();
              resolve(r);
            },
          )
          .on('error', reject);
      });
      const cut = new Promise<void>((resolve) => {
        response.once('error', () => resolve());
        response.once('close', () => resolve());
      });
      await delay(600); // stalled for a few memory samples
      rss = 900_000_000; // 90 %: over the 75 % hard mark
      await until(() => server.app.admission.shedTotal > 0);
      expect(server.app.admission.shedTotal).toBe(1);
      expect(handled(server, 'ListFeatures', grpc.status.RESOURCE_EXHAUSTED)).toBe(1);
      response.resume();
      await cut;
    } finally {
      await server.close();
    }
  }, 30_000);
});

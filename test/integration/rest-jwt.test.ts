import * as grpc from '@grpc/grpc-js';
import { WebSocket } from 'ws';
import { eventually } from '../helpers/calls';
import { createKey, JwksServer, jwtEnv, mint, type TestKey } from '../helpers/jwt-issuer';
import { check, healthClient } from '../helpers/ops';
import { httpRequest, sseEvents } from '../helpers/rest';
import { startTestServer, type TestServer } from '../helpers/server';

const POINT = { latitude: 409146138, longitude: -746188906 };
const READ = 'routeguide.read';
const WRITE = 'routeguide.write';
const STATIC_TOKEN = 'static-tok';

type Method = 'GetFeature' | 'ListFeatures' | 'RecordRoute' | 'RouteChat';

/** What one face decided: the gRPC status code and message. */
interface Decision {
  readonly code: grpc.status;
  readonly message: string;
}

/** A REST decision with what only HTTP carries. */
interface RestDecision extends Decision {
  readonly httpStatus: number;
  readonly challenge: string | undefined;
  readonly retryAfter: string | undefined;
}

const HTTP_STATUS: Readonly<Partial<Record<grpc.status, number>>> = {
  [grpc.status.OK]: 200,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.UNAVAILABLE]: 503,
};

function metadataOf(authorization: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  return metadata;
}

/** One call of `method` over gRPC, each kind driven to its end; resolves with its status. */
function grpcCall(
  client: grpc.Client,
  method: Method,
  authorization: string | undefined,
): Promise<Decision> {
  const c = client as unknown as Record<
    Method,
    (...args: unknown[]) => grpc.ClientWritableStream<unknown>
  >;
  const metadata = metadataOf(authorization);
  const options = { deadline: Date.now() + 10_000 };
  return new Promise((resolve) => {
    const done = (error: grpc.ServiceError | null) =>
      resolve(error ? { code: error.code, message: error.details } : { code: 0, message: 'OK' });
    switch (method) {
      case 'GetFeature':
        c.GetFeature(POINT, metadata, options, done);
        return;
      case 'RecordRoute': {
        const call = c.RecordRoute(metadata, options, done);
        call.write(POINT);
        call.end();
        return;
      }
      case 'ListFeatures': {
        const call = c.ListFeatures({ lo: POINT, hi: POINT }, metadata, options);
        call.on('data', () => undefined);
        call.on('error', done);
        call.on('end', () => done(null));
        return;
      }
      case 'RouteChat': {
        const call = c.RouteChat(metadata, options) as unknown as grpc.ClientDuplexStream<
          unknown,
          unknown
        >;
        call.on('data', () => undefined);
        call.on('error', done);
        call.on('end', () => done(null));
        call.write({ location: POINT, message: 'hi' });
        call.end();
        return;
      }
    }
  });
}

const NOTE = JSON.stringify({ location: POINT, message: 'hi' });
const REST_REQUESTS: Readonly<Record<Method, { method: string; path: string; body?: string }>> = {
  GetFeature: { method: 'GET', path: `/v1/features/${POINT.latitude}/${POINT.longitude}` },
  ListFeatures: {
    method: 'GET',
    path: `/v1/features?lo.latitude=${POINT.latitude}&lo.longitude=${POINT.longitude}&hi.latitude=${POINT.latitude}&hi.longitude=${POINT.longitude}`,
  },
  RecordRoute: { method: 'POST', path: '/v1/routes', body: `${JSON.stringify(POINT)}\n` },
  RouteChat: { method: 'POST', path: '/v1/notes:chat', body: `${NOTE}\n` },
};

/** One call of `method` over REST with `Authorization` set as given. */
async function restCall(
  restUrl: string,
  method: Method,
  authorization: string | undefined,
): Promise<RestDecision> {
  const spec = REST_REQUESTS[method];
  const response = await httpRequest(`${restUrl}${spec.path}`, {
    method: spec.method,
    headers: {
      ...(authorization !== undefined ? { authorization } : {}),
      ...(spec.body !== undefined ? { 'content-type': 'application/x-ndjson' } : {}),
    },
    ...(spec.body !== undefined ? { body: spec.body } : {}),
  });
  const header = (name: string) => response.headers[name] as string | undefined;
  const decision = { httpStatus: response.status, challenge: header('www-authenticate') };
  if (response.status === 200) {
    return { ...decision, code: 0, message: 'OK', retryAfter: undefined };
  }
  const body = JSON.parse(response.body) as { code: number; message: string; details: unknown[] };
  expect(body.details).toEqual([]);
  expect(response.headers['content-type']).toBe('application/json');
  return { ...decision, code: body.code, message: body.message, retryAfter: header('retry-after') };
}

/** One row: a credential, a method, and the decision both faces must reach. */
interface Case {
  readonly name: string;
  readonly authorization: () => Promise<string | undefined>;
  readonly method: Method;
  readonly code: grpc.status;
  /** The exact `WWW-Authenticate` of the REST refusal (401, 403). */
  readonly challenge?: string;
  /** A part of the message both faces give. */
  readonly reason?: string;
}

/**
 * Runs every row on gRPC and on REST: the same status code and message on both, the HTTP status
 * of grpc-gateway's table, a google.rpc.Status body and the RFC 6750 challenge on REST.
 */
async function bothFaces(server: TestServer, cases: readonly Case[]): Promise<void> {
  for (const row of cases) {
    const authorization = await row.authorization();
    const viaGrpc = await grpcCall(server.client, row.method, authorization);
    const viaRest = await restCall(server.restUrl, row.method, authorization);
    const what = `${row.name} (${row.method})`;
    expect({ what, ...viaGrpc }).toEqual({ what, code: row.code, message: expect.any(String) });
    expect({ what, code: viaRest.code, message: viaRest.message }).toEqual({ what, ...viaGrpc });
    expect({ what, status: viaRest.httpStatus }).toEqual({ what, status: HTTP_STATUS[row.code] });
    if (row.reason !== undefined) expect(viaRest.message).toContain(row.reason);
    if (row.code === grpc.status.OK) continue;
    expect({ what, challenge: viaRest.challenge }).toEqual({ what, challenge: row.challenge });
  }
}

const bearer = (token: string | Promise<string>) => async () => `Bearer ${await token}`;
const none = () => Promise.resolve(undefined);

const MISSING = 'Bearer';
const invalidToken = (description: string) =>
  `Bearer error="invalid_token", error_description="${description}"`;
const insufficientScope = (scope: string) => `Bearer error="insufficient_scope", scope="${scope}"`;

let rsa: TestKey;
let ec: TestKey;
let stranger: TestKey;
beforeAll(async () => {
  [rsa, ec] = await Promise.all([createKey('RS256', 'rsa-1'), createKey('ES256', 'ec-1')]);
  // Same kid as the RSA key, another key: a forged signature.
  stranger = await createKey('RS256', 'rsa-1');
});

describe('JWT on both faces: one authenticator, one decision', () => {
  let jwks: JwksServer;
  let server: TestServer;
  beforeAll(async () => {
    jwks = await JwksServer.start([rsa, ec]);
    server = await startTestServer({ env: jwtEnv(jwks.url) });
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('valid, missing, expired, forged, unknown-kid and foreign tokens: 200 or 401, as gRPC decides', async () => {
    const read = () => mint(rsa, { scope: READ });
    await bothFaces(server, [
      { name: 'valid', authorization: bearer(read()), method: 'GetFeature', code: 0 },
      {
        name: 'valid ES256',
        authorization: bearer(mint(ec, { scope: READ })),
        method: 'GetFeature',
        code: 0,
      },
      {
        name: 'lower-case scheme',
        authorization: async () => `bearer ${await read()}`,
        method: 'GetFeature',
        code: 0,
      },
      {
        name: 'missing',
        authorization: none,
        method: 'GetFeature',
        code: grpc.status.UNAUTHENTICATED,
        challenge: MISSING,
        reason: 'missing',
      },
      {
        name: 'not a bearer credential',
        authorization: () => Promise.resolve('Basic dXNlcjpwYXNz'),
        method: 'GetFeature',
        code: grpc.status.UNAUTHENTICATED,
        challenge: MISSING,
      },
      ...(
        [
          ['expired', mint(rsa, { scope: READ, expiresIn: -120 }), 'token expired'],
          ['bad signature', mint(stranger, { scope: READ }), 'signature verification failed'],
          [
            'unknown kid',
            mint(rsa, { scope: READ, kid: 'unknown' }),
            'no known key matches the token',
          ],
          ['wrong audience', mint(rsa, { scope: READ, audience: 'other' }), 'wrong audience'],
          ['wrong issuer', mint(rsa, { scope: READ, issuer: 'https://evil.test' }), 'wrong issuer'],
          ['not yet valid', mint(rsa, { scope: READ, notBefore: 600 }), 'token not yet valid'],
          ['malformed', 'not.a.jwt', 'malformed token'],
        ] as const
      ).map(([name, token, description]): Case => ({
        name,
        authorization: bearer(token),
        method: 'GetFeature',
        code: grpc.status.UNAUTHENTICATED,
        challenge: invalidToken(description),
        reason: description,
      })),
      {
        name: 'expired, on a client stream',
        authorization: bearer(mint(rsa, { scope: WRITE, expiresIn: -120 })),
        method: 'RecordRoute',
        code: grpc.status.UNAUTHENTICATED,
        challenge: invalidToken('token expired'),
      },
    ]);
  });

  it('scopes per method: a read-only token gets and lists, not RecordRoute or RouteChat (403)', async () => {
    const reader = bearer(mint(ec, { scope: READ }));
    const writer = bearer(mint(ec, { claims: { scp: [WRITE] } }));
    const both = bearer(mint(rsa, { scope: `${READ} ${WRITE}` }));
    const denied = (method: Method, scope: string): Omit<Case, 'name' | 'authorization'> => ({
      method,
      code: grpc.status.PERMISSION_DENIED,
      challenge: insufficientScope(scope),
      reason: `lacks scope "${scope}" needed by ${method}`,
    });
    await bothFaces(server, [
      { name: 'reader', authorization: reader, method: 'GetFeature', code: 0 },
      { name: 'reader', authorization: reader, method: 'ListFeatures', code: 0 },
      { name: 'reader', authorization: reader, ...denied('RecordRoute', WRITE) },
      { name: 'reader', authorization: reader, ...denied('RouteChat', WRITE) },
      { name: 'writer', authorization: writer, method: 'RecordRoute', code: 0 },
      { name: 'writer', authorization: writer, method: 'RouteChat', code: 0 },
      { name: 'writer', authorization: writer, ...denied('GetFeature', READ) },
      { name: 'writer', authorization: writer, ...denied('ListFeatures', READ) },
      ...(['GetFeature', 'ListFeatures', 'RecordRoute', 'RouteChat'] as const).map(
        (method): Case => ({ name: 'read and write', authorization: both, method, code: 0 }),
      ),
    ]);
  });

  it('access_token with a JWT: Server-Sent Events and WebSocket; nowhere else', async () => {
    const base = server.restUrl;
    const list = `${base}${REST_REQUESTS.ListFeatures.path}`;
    const sse = (token: string) =>
      httpRequest(`${list}&access_token=${token}`, { headers: { accept: 'text/event-stream' } });
    const ok = await sse(await mint(rsa, { scope: READ }));
    expect(ok.status).toBe(200);
    expect(sseEvents(ok.body).map((e) => e.event)).toEqual(['result', 'end']);
    const expired = await sse(await mint(rsa, { scope: READ, expiresIn: -120 }));
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toBe(invalidToken('token expired'));
    const writer = await sse(await mint(rsa, { scope: WRITE }));
    expect(writer.status).toBe(403);
    expect(writer.headers['www-authenticate']).toBe(insufficientScope(READ));
    const plain = await fetch(`${list}&access_token=${await mint(rsa, { scope: READ })}`);
    expect(plain.status).toBe(400);

    const chat = `${base.replace('http', 'ws')}/v1/notes:chat?access_token=`;
    expect(await webSocketChat(chat + (await mint(rsa, { scope: WRITE })))).toEqual({
      code: 1000,
      last: { status: { code: 0, message: 'OK', details: [] } },
    });
    expect(await webSocketChat(chat + (await mint(rsa, { scope: READ })))).toEqual({
      code: 4000 + grpc.status.PERMISSION_DENIED,
      last: {
        status: expect.objectContaining({ code: 7, message: expect.stringContaining(WRITE) }),
      },
    });
    const stale = await mint(rsa, { scope: WRITE, expiresIn: -120 });
    expect(await webSocketChat(chat + stale)).toEqual({
      code: 4000 + grpc.status.UNAUTHENTICATED,
      last: {
        status: expect.objectContaining({ code: 16, message: expect.stringContaining('expired') }),
      },
    });
  });

  it('/healthz, /openapi.json and /docs stay open without a token', async () => {
    for (const path of ['/healthz', '/openapi.json', '/docs/']) {
      expect({ path, status: (await fetch(`${server.restUrl}${path}`)).status }).toEqual({
        path,
        status: 200,
      });
    }
  });
});

/** A WebSocket RouteChat that sends one note and half-closes: the close code and last message. */
function webSocketChat(url: string): Promise<{ code: number; last: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let last: unknown;
    ws.on('message', (data: Buffer) => (last = JSON.parse(data.toString()) as unknown));
    ws.on('open', () => {
      ws.send(NOTE);
      ws.send('');
    });
    ws.on('close', (code) => resolve({ code, last }));
    ws.on('error', reject);
  });
}

describe('AUTH_TOKEN beside JWT: either credential passes, on both faces', () => {
  let jwks: JwksServer;
  let server: TestServer;
  beforeAll(async () => {
    jwks = await JwksServer.start([rsa]);
    server = await startTestServer({ env: jwtEnv(jwks.url, { AUTH_TOKEN: STATIC_TOKEN }) });
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('the static token calls every method; a JWT by its scopes; the most specific refusal wins', async () => {
    const reader = bearer(mint(rsa, { scope: READ }));
    await bothFaces(server, [
      ...(['GetFeature', 'ListFeatures', 'RecordRoute', 'RouteChat'] as const).map(
        (method): Case => ({
          name: 'static',
          authorization: bearer(STATIC_TOKEN),
          method,
          code: 0,
        }),
      ),
      { name: 'JWT reader', authorization: reader, method: 'GetFeature', code: 0 },
      {
        name: 'JWT reader',
        authorization: reader,
        method: 'RecordRoute',
        code: grpc.status.PERMISSION_DENIED,
        challenge: insufficientScope(WRITE),
      },
      {
        name: 'expired JWT',
        authorization: bearer(mint(rsa, { scope: READ, expiresIn: -120 })),
        method: 'GetFeature',
        code: grpc.status.UNAUTHENTICATED,
        challenge: invalidToken('token expired'),
      },
      {
        name: 'neither',
        authorization: bearer('wrong'),
        method: 'GetFeature',
        code: grpc.status.UNAUTHENTICATED,
        challenge: invalidToken('malformed token'),
      },
      {
        name: 'missing',
        authorization: none,
        method: 'GetFeature',
        code: grpc.status.UNAUTHENTICATED,
        challenge: MISSING,
      },
    ]);
  });
});

describe('no signing key ever loaded', () => {
  it('503 (code 14, Retry-After) on REST as UNAVAILABLE on gRPC, /healthz 503, until keys arrive', async () => {
    const jwks = await JwksServer.start([rsa]);
    jwks.down = true;
    const server = await startTestServer({
      env: jwtEnv(jwks.url, { AUTH_JWKS_REFRESH_MS: '200', AUTH_JWKS_MIN_REFRESH_MS: '100' }),
    });
    try {
      const health = healthClient(server.address);
      expect(await check(health, '')).toBe('NOT_SERVING');
      health.close();
      const healthz = await fetch(`${server.restUrl}/healthz`);
      expect(healthz.status).toBe(503);
      expect(await healthz.json()).toEqual({ status: 'NOT_SERVING' });
      const token = await mint(rsa, { scope: READ });
      const started = Date.now();
      const viaRest = await restCall(server.restUrl, 'GetFeature', `Bearer ${token}`);
      expect(viaRest).toMatchObject({
        httpStatus: 503,
        code: grpc.status.UNAVAILABLE,
        message: expect.stringContaining('no token signing keys loaded'),
        retryAfter: '1',
        challenge: undefined,
      });
      expect(await grpcCall(server.client, 'GetFeature', `Bearer ${token}`)).toEqual({
        code: viaRest.code,
        message: viaRest.message,
      });
      expect(Date.now() - started).toBeLessThan(2000);
      // Without a token the caller hears what it is missing, keys or not.
      expect(await restCall(server.restUrl, 'GetFeature', undefined)).toMatchObject({
        httpStatus: 401,
        challenge: MISSING,
      });
      jwks.down = false;
      await eventually(() => server.app.health.status === 'SERVING', 5000, 'SERVING');
      expect((await fetch(`${server.restUrl}/healthz`)).status).toBe(200);
      expect(await restCall(server.restUrl, 'GetFeature', `Bearer ${token}`)).toMatchObject({
        httpStatus: 200,
      });
    } finally {
      await server.close();
      await jwks.close();
    }
  });
});

interface OpenApiOperation {
  readonly description: string;
  readonly security?: unknown;
  readonly 'x-required-scopes'?: string[];
}

/** The operations of the document the server serves, by gRPC method name. */
async function servedOperations(restUrl: string): Promise<Record<string, OpenApiOperation>> {
  const document = (await (await fetch(`${restUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const at = (path: string, verb: string) => document.paths[path]![verb]!;
  return {
    GetFeature: at('/v1/features/{latitude}/{longitude}', 'get'),
    ListFeatures: at('/v1/features', 'get'),
    RecordRoute: at('/v1/routes', 'post'),
    RouteChat: at('/v1/notes:chat', 'post'),
  };
}

describe('/openapi.json lists the scopes the server enforces', () => {
  let jwks: JwksServer;
  let server: TestServer;
  beforeAll(async () => {
    jwks = await JwksServer.start([rsa]);
    server = await startTestServer({
      env: jwtEnv(jwks.url, {
        AUTH_SCOPES: 'GetFeature=geo.read routeguide.read, RouteChat=',
      }),
    });
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('an AUTH_SCOPES override shows per operation, and the server decides by it', async () => {
    const operations = await servedOperations(server.restUrl);
    const scopes = Object.fromEntries(
      Object.entries(operations).map(([method, op]) => [method, op['x-required-scopes']]),
    );
    expect(scopes).toEqual({
      GetFeature: ['geo.read', READ],
      ListFeatures: [READ],
      RecordRoute: [WRITE],
      RouteChat: [],
    });
    for (const op of Object.values(operations)) expect(op.security).toEqual([{ bearerAuth: [] }]);
    expect(operations['GetFeature']!.description).toContain(
      'Requires a bearer token with scope `geo.read`, `routeguide.read`.',
    );
    expect(operations['RouteChat']!.description).not.toContain('Requires a bearer token');
    await bothFaces(server, [
      {
        name: 'read only',
        authorization: bearer(mint(rsa, { scope: READ })),
        method: 'GetFeature',
        code: grpc.status.PERMISSION_DENIED,
        challenge: insufficientScope(`geo.read ${READ}`),
      },
      {
        name: 'geo and read',
        authorization: bearer(mint(rsa, { scope: `geo.read ${READ}` })),
        method: 'GetFeature',
        code: 0,
      },
      { name: 'no scope', authorization: bearer(mint(rsa)), method: 'RouteChat', code: 0 },
    ]);
  });

  it('the default policy without AUTH_SCOPES; none with AUTH_TOKEN alone; no security without auth', async () => {
    const defaults = await startTestServer({ env: jwtEnv(jwks.url) });
    const tokenOnly = await startTestServer({ env: { AUTH_TOKEN: STATIC_TOKEN } });
    const open = await startTestServer();
    try {
      const scopesOf = async (s: TestServer) =>
        Object.values(await servedOperations(s.restUrl)).map((op) => op['x-required-scopes']);
      expect(await scopesOf(defaults)).toEqual([[READ], [READ], [WRITE], [WRITE]]);
      expect(await scopesOf(tokenOnly)).toEqual([[], [], [], []]);
      const openOps = Object.values(await servedOperations(open.restUrl));
      expect(openOps.map((op) => op.security)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    } finally {
      await Promise.all([defaults.close(), tokenOnly.close(), open.close()]);
    }
  });
});

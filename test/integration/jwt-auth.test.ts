import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportSPKI, SignJWT } from 'jose';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { eventually } from '../helpers/calls';
import {
  AUDIENCE,
  base64url,
  createKey,
  ISSUER,
  JwksServer,
  jwtEnv,
  mint,
  type TestKey,
} from '../helpers/jwt-issuer';
import { check, healthClient } from '../helpers/ops';
import { ReflectionClient } from '../helpers/reflection-client';
import { capturingLogger, startTestServer, type TestServer } from '../helpers/server';

const POINT = { latitude: 409146138, longitude: -746188906 };
const NAME = 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA';
const READ = 'routeguide.read';
const WRITE = 'routeguide.write';

function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function getFeature(client: RouteGuideClient, metadata = new grpc.Metadata(), deadlineMs = 10_000) {
  return new Promise<{ name: string }>((resolve, reject) =>
    client.GetFeature(POINT, metadata, { deadline: Date.now() + deadlineMs }, (error, feature) =>
      error ? reject(error) : resolve(feature!),
    ),
  );
}

function recordRoute(client: RouteGuideClient, metadata: grpc.Metadata) {
  return new Promise<unknown>((resolve, reject) => {
    const call = client.RecordRoute(
      metadata,
      { deadline: Date.now() + 10_000 },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
    call.write(POINT);
    call.end();
  });
}

function listFeatures(client: RouteGuideClient, metadata: grpc.Metadata) {
  return new Promise<number>((resolve, reject) => {
    let count = 0;
    const call = client.ListFeatures({ lo: POINT, hi: POINT }, metadata, {
      deadline: Date.now() + 10_000,
    });
    call.on('data', () => count++);
    call.on('error', reject);
    call.on('end', () => resolve(count));
  });
}

function routeChat(client: RouteGuideClient, metadata: grpc.Metadata) {
  return new Promise<void>((resolve, reject) => {
    const call = client.RouteChat(metadata, { deadline: Date.now() + 10_000 });
    call.on('data', () => undefined);
    call.on('error', reject);
    call.on('end', () => resolve());
    call.write({ location: POINT, message: 'hi' });
    call.end();
  });
}

const refused = (code: grpc.status, details?: string) =>
  expect.objectContaining({
    code,
    ...(details !== undefined ? { details: expect.stringContaining(details) } : {}),
  });

let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let stranger: TestKey;

beforeAll(async () => {
  [rsa, ec, ed] = await Promise.all([
    createKey('RS256', 'rsa-1'),
    createKey('ES256', 'ec-1'),
    createKey('EdDSA', 'ed-1'),
  ]);
  // Same kid as the RSA key, but a different key: a forged signature.
  stranger = await createKey('RS256', 'rsa-1');
});

describe('JWT verification against a JWKS', () => {
  let jwks: JwksServer;
  let server: TestServer;
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    jwks = await JwksServer.start([rsa, ec, ed]);
    server = await startTestServer({ env: jwtEnv(jwks.url), logger });
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('accepts RS256, ES256 and EdDSA tokens with the right scope; logs the keys loading', async () => {
    for (const key of [rsa, ec, ed]) {
      const token = await mint(key, { scope: `${READ} ${WRITE}` });
      expect(await getFeature(server.client, bearer(token))).toMatchObject({ name: NAME });
    }
    expect(lines()).toContainEqual(
      expect.objectContaining({ msg: 'JWT signing keys loaded', keyCount: 3 }),
    );
  });

  it('refuses missing, expired, early, foreign, forged, unknown-key, malformed and huge tokens', async () => {
    const c = server.client;
    await expect(getFeature(c)).rejects.toEqual(refused(grpc.status.UNAUTHENTICATED, 'missing'));
    const cases: [string, Promise<string> | string][] = [
      ['token expired', mint(rsa, { scope: READ, expiresIn: -120 })],
      ['not yet valid', mint(rsa, { scope: READ, notBefore: 600 })],
      ['wrong issuer', mint(rsa, { scope: READ, issuer: 'https://evil.test' })],
      ['wrong audience', mint(rsa, { scope: READ, audience: 'another-service' })],
      ['signature verification failed', mint(stranger, { scope: READ })],
      ['no known key', mint(rsa, { scope: READ, kid: 'unknown-kid' })],
      ['claim "exp" missing', mint(rsa, { scope: READ, noExpiry: true })],
      ['malformed', 'not.a.jwt'],
      ['malformed', `${base64url('{"alg":')}.${base64url({ sub: 'x' })}.AAAA`],
      ['signature verification failed', `${base64url({ alg: 'RS256', kid: 'rsa-1' })}.e30.AAAA`],
      ['longer than 8192 bytes', `${base64url({ alg: 'RS256' })}.${'a'.repeat(9000)}.sig`],
    ];
    for (const [reason, token] of cases) {
      await expect(getFeature(c, bearer(await token))).rejects.toEqual(
        refused(grpc.status.UNAUTHENTICATED, reason),
      );
    }
  });

  it('expiry tolerates the configured clock skew (60 s by default)', async () => {
    const token = await mint(rsa, { scope: READ, expiresIn: -30 });
    expect(await getFeature(server.client, bearer(token))).toMatchObject({ name: NAME });
  });

  it('scopes per method: read-only tokens list and get, write needs routeguide.write', async () => {
    const c = server.client;
    const reader = bearer(await mint(ec, { scope: READ }));
    expect(await getFeature(c, reader)).toMatchObject({ name: NAME });
    expect(await listFeatures(c, reader)).toBe(1);
    await expect(recordRoute(c, reader)).rejects.toEqual(
      refused(grpc.status.PERMISSION_DENIED, `lacks scope "${WRITE}" needed by RecordRoute`),
    );
    await expect(routeChat(c, reader)).rejects.toEqual(refused(grpc.status.PERMISSION_DENIED));
    const writer = bearer(await mint(ec, { claims: { scp: [WRITE] } }));
    await expect(recordRoute(c, writer)).resolves.toBeDefined();
    await expect(routeChat(c, writer)).resolves.toBeUndefined();
    await expect(getFeature(c, writer)).rejects.toEqual(refused(grpc.status.PERMISSION_DENIED));
  });

  it("refuses an attacker's tokens: HS256 signed with the public key, alg none", async () => {
    const pem = await exportSPKI(
      (await import('node:crypto')).createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }),
    );
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'mallory', scope: READ, exp: now + 300 };
    for (const secret of [
      new TextEncoder().encode(pem),
      new TextEncoder().encode(JSON.stringify(rsa.publicJwk)),
    ]) {
      const confused = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
        .sign(secret);
      await expect(getFeature(server.client, bearer(confused))).rejects.toEqual(
        refused(grpc.status.UNAUTHENTICATED, 'algorithm not allowed'),
      );
    }
    const none = `${base64url({ alg: 'none', kid: rsa.kid })}.${base64url(claims)}.`;
    await expect(getFeature(server.client, bearer(none))).rejects.toEqual(
      refused(grpc.status.UNAUTHENTICATED),
    );
  });

  it('1,000 tokens with random unknown kids cause at most one JWKS fetch', async () => {
    const before = jwks.fetches;
    const c = server.client;
    const tokens = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        mint(ec, { scope: READ, kid: `kid-${i}-${Math.random().toString(36).slice(2)}` }),
      ),
    );
    const codes: grpc.status[] = [];
    for (let i = 0; i < tokens.length; i += 100) {
      const batch = tokens.slice(i, i + 100);
      const results = await Promise.allSettled(batch.map((t) => getFeature(c, bearer(t))));
      for (const result of results) {
        codes.push(result.status === 'rejected' ? (result.reason as grpc.ServiceError).code : 0);
      }
    }
    expect(new Set(codes)).toEqual(new Set([grpc.status.UNAUTHENTICATED]));
    console.log(`1000 unknown kids: ${jwks.fetches - before} JWKS fetches`);
    expect(jwks.fetches - before).toBeLessThanOrEqual(1);
  });

  it('health and reflection stay open (no token)', async () => {
    const health = healthClient(server.address);
    expect(await check(health, '')).toBe('SERVING');
    health.close();
    const reflection = new ReflectionClient(server.address, 'v1');
    expect(await reflection.listServices()).toContain('routeguide.RouteGuide');
    reflection.close();
  });
});

describe('key rotation and identity provider outages', () => {
  let jwks: JwksServer;
  let server: TestServer;

  beforeAll(async () => {
    jwks = await JwksServer.start([rsa]);
    server = await startTestServer({
      env: jwtEnv(jwks.url, { AUTH_JWKS_REFRESH_MS: '400', AUTH_JWKS_MIN_REFRESH_MS: '100' }),
    });
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('accepts a new kid once published and refuses a removed one within the refresh bound', async () => {
    const c = server.client;
    const oldToken = bearer(await mint(rsa, { scope: READ }));
    const newToken = bearer(await mint(ec, { scope: READ }));
    expect(await getFeature(c, oldToken)).toMatchObject({ name: NAME });
    jwks.keys = [rsa, ec];
    // The unknown kid triggers a reload (at most once per 100 ms here).
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await getFeature(c, newToken)).toMatchObject({ name: NAME });
    jwks.keys = [ec];
    const removedAt = Date.now();
    let refusedCode: grpc.status | undefined;
    while (refusedCode === undefined && Date.now() - removedAt < 5000) {
      await getFeature(c, oldToken).catch((error: grpc.ServiceError) => {
        refusedCode = error.code;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const tookMs = Date.now() - removedAt;
    console.log(`removed key refused after ${tookMs} ms (refresh every 400 ms)`);
    expect(refusedCode).toBe(grpc.status.UNAUTHENTICATED);
    expect(tookMs).toBeLessThan(3000);
  });

  it('keeps verifying with cached keys while the JWKS endpoint is down', async () => {
    jwks.down = true;
    const before = jwks.fetches;
    await eventually(() => jwks.fetches >= before + 2, 5000, 'failed refreshes');
    expect(await getFeature(server.client, bearer(await mint(ec, { scope: READ })))).toMatchObject({
      name: NAME,
    });
    const health = healthClient(server.address);
    expect(await check(health, '')).toBe('SERVING');
    health.close();
    jwks.down = false;
  });
});

describe('no key ever loaded', () => {
  it('answers UNAVAILABLE at once, reports NOT_SERVING, and serves once keys arrive', async () => {
    const jwks = await JwksServer.start([rsa]);
    jwks.down = true;
    const server = await startTestServer({
      env: jwtEnv(jwks.url, { AUTH_JWKS_REFRESH_MS: '200', AUTH_JWKS_MIN_REFRESH_MS: '100' }),
    });
    try {
      const health = healthClient(server.address);
      expect(await check(health, '')).toBe('NOT_SERVING');
      const token = bearer(await mint(rsa, { scope: READ }));
      const started = Date.now();
      await expect(getFeature(server.client, token, 5000)).rejects.toEqual(
        refused(grpc.status.UNAVAILABLE, 'no token signing keys loaded'),
      );
      expect(Date.now() - started).toBeLessThan(2000);
      jwks.down = false;
      await eventually(() => server.app.health.status === 'SERVING', 5000, 'SERVING');
      expect(await check(health, '')).toBe('SERVING');
      expect(await getFeature(server.client, token)).toMatchObject({ name: NAME });
      health.close();
    } finally {
      await server.close();
      await jwks.close();
    }
  });

  it('an unreachable JWKS endpoint delays start-up by at most the fetch timeout', async () => {
    const started = Date.now();
    // A port nothing listens on: the connection is refused at once.
    const server = await startTestServer({
      env: jwtEnv('http://127.0.0.1:9/jwks.json', { AUTH_JWKS_FETCH_TIMEOUT_MS: '1000' }),
    });
    try {
      expect(Date.now() - started).toBeLessThan(5000);
      expect(server.app.health.status).toBe('NOT_SERVING');
    } finally {
      await server.close();
    }
  });
});

describe('other key sources and the static token beside JWT', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'jwks-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('AUTH_JWKS_FILE: keys from a file, re-read when it changes', async () => {
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [rsa.publicJwk] }));
    const server = await startTestServer({
      env: {
        AUTH_JWKS_FILE: file,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_REFRESH_MS: '200',
        AUTH_JWKS_MIN_REFRESH_MS: '50',
      },
    });
    try {
      expect(
        await getFeature(server.client, bearer(await mint(rsa, { scope: READ }))),
      ).toMatchObject({ name: NAME });
      writeFileSync(file, JSON.stringify({ keys: [ed.publicJwk] }));
      const edToken = bearer(await mint(ed, { scope: READ }));
      await eventually(() => server.app.jwksKeys?.resolver() !== undefined, 1000);
      let ok = false;
      const deadline = Date.now() + 5000;
      while (!ok && Date.now() < deadline) {
        ok = await getFeature(server.client, edToken).then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ok).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('AUTH_TOKEN with JWT: either passes; a valid JWT without the scope is PERMISSION_DENIED', async () => {
    const jwks = await JwksServer.start([rsa]);
    const server = await startTestServer({ env: jwtEnv(jwks.url, { AUTH_TOKEN: 'static-tok' }) });
    try {
      const c = server.client;
      expect(await getFeature(c, bearer('static-tok'))).toMatchObject({ name: NAME });
      expect(await getFeature(c, bearer(await mint(rsa, { scope: READ })))).toMatchObject({
        name: NAME,
      });
      await expect(getFeature(c, bearer('wrong'))).rejects.toEqual(
        refused(grpc.status.UNAUTHENTICATED),
      );
      await expect(getFeature(c, bearer(await mint(rsa, { scope: WRITE })))).rejects.toEqual(
        refused(grpc.status.PERMISSION_DENIED),
      );
    } finally {
      await server.close();
      await jwks.close();
    }
  });

  it('AUTH_HS256_SECRET only: HS256 tokens with that secret; AUTH_REFLECTION closes reflection', async () => {
    const secret = 'a-shared-secret-of-at-least-32-bytes!';
    const server = await startTestServer({
      env: {
        AUTH_HS256_SECRET: secret,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_REFLECTION: 'true',
        AUTH_SCOPES: 'GetFeature=',
      },
    });
    try {
      const token = await new SignJWT({ sub: 'svc' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      expect(await getFeature(server.client, bearer(token))).toMatchObject({ name: NAME });
      await expect(getFeature(server.client, bearer(await mint(rsa)))).rejects.toEqual(
        refused(grpc.status.UNAUTHENTICATED, 'algorithm not allowed'),
      );
      const reflection = new ReflectionClient(server.address, 'v1');
      await expect(reflection.listServices()).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
      reflection.close();
      expect(server.app.health.status).toBe('SERVING');
    } finally {
      await server.close();
    }
  });
});

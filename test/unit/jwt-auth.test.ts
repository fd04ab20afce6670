import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AnyAuthenticator } from '../../src/auth/any-authenticator';
import { ANONYMOUS, AuthFailure, type Authenticator } from '../../src/auth/authenticator';
import { JwksKeys } from '../../src/auth/jwks-keys';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator';
import { DEFAULT_SCOPES, grantedScopes, parseScopePolicy } from '../../src/auth/scopes';
import { AUDIENCE, createKey, ISSUER, mint } from '../helpers/jwt-issuer';

const GET = '/routeguide.RouteGuide/GetFeature';

describe('scopes', () => {
  it('reads scope (space-separated) and scp (array or string)', () => {
    expect([...grantedScopes({ scope: 'a  b' })]).toEqual(['a', 'b']);
    expect([...grantedScopes({ scp: ['c', 1, 'd'] })]).toEqual(['c', 'd']);
    expect([...grantedScopes({ scp: 'e f', scope: 'a' })].sort()).toEqual(['a', 'e', 'f']);
    expect(grantedScopes({ scope: 42 }).size).toBe(0);
  });

  it('overrides the defaults per method', () => {
    const policy = parseScopePolicy('GetFeature=x y,RecordRoute=');
    expect(policy[GET]).toEqual(['x', 'y']);
    expect(policy['/routeguide.RouteGuide/RecordRoute']).toEqual([]);
    expect(policy['/routeguide.RouteGuide/RouteChat']).toEqual(['routeguide.write']);
    expect(parseScopePolicy('')).toEqual(DEFAULT_SCOPES);
    expect(() => parseScopePolicy('/bad path=x')).toThrow(/expected Method=scope/);
  });
});

describe('AnyAuthenticator', () => {
  const fails = (kind: AuthFailure['kind'], message: string = kind): Authenticator => ({
    authenticate: () => {
      throw new AuthFailure(kind, message);
    },
  });
  const rejects = (kind: AuthFailure['kind']): Authenticator => ({
    authenticate: () => Promise.reject(new AuthFailure(kind, `async ${kind}`)),
  });
  const passes: Authenticator = { authenticate: () => ({ via: 'jwt', subject: 's' }) };
  const request = { grpcPath: GET, authorization: 'Bearer x' };

  it('passes when any passes, synchronously when the first does', async () => {
    expect(new AnyAuthenticator([passes, fails('unauthenticated')]).authenticate(request)).toEqual({
      via: 'jwt',
      subject: 's',
    });
    await expect(
      new AnyAuthenticator([
        fails('unauthenticated'),
        rejects('unauthenticated'),
        passes,
      ]).authenticate(request),
    ).resolves.toMatchObject({ subject: 's' });
  });

  it('refuses with the most specific failure', async () => {
    await expect(
      Promise.resolve().then(() =>
        new AnyAuthenticator([fails('unauthenticated'), rejects('permission-denied')]).authenticate(
          request,
        ),
      ),
    ).rejects.toMatchObject({ kind: 'permission-denied' });
    await expect(
      Promise.resolve().then(() =>
        new AnyAuthenticator([
          fails('unauthenticated', 'static'),
          rejects('unavailable'),
        ]).authenticate(request),
      ),
    ).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(
      Promise.resolve().then(() =>
        new AnyAuthenticator([
          fails('unauthenticated', 'first'),
          rejects('unauthenticated'),
        ]).authenticate(request),
      ),
    ).rejects.toMatchObject({ message: 'async unauthenticated' });
  });
});

describe('JwksKeys and JwtAuthenticator', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'jwks-unit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps cached keys through failed loads until they are maxStaleMs old, then UNAVAILABLE', async () => {
    const key = await createKey('ES256', 'k');
    const file = path.join(dir, 'stale.json');
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    let now = 1_000_000;
    const errors: string[] = [];
    const keys = new JwksKeys({
      file,
      now: () => now,
      maxStaleMs: 60_000,
      minRefreshMs: 1000,
      onError: (error) => errors.push(error.message),
    });
    const jwt = new JwtAuthenticator({
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      scopes: DEFAULT_SCOPES,
      services: ['routeguide.RouteGuide'],
    });
    try {
      expect(await keys.start()).toBe(true);
      const request = {
        grpcPath: GET,
        authorization: `Bearer ${await mint(key, { scope: 'routeguide.read', sub: 'alice' })}`,
      };
      await expect(Promise.resolve().then(() => jwt.authenticate(request))).resolves.toMatchObject({
        via: 'jwt',
        subject: 'alice',
      });
      rmSync(file);
      now += 30_000;
      expect(await keys.refreshForUnknownKey()).toBe(false);
      expect(errors).toEqual([expect.stringContaining('ENOENT')]);
      await expect(Promise.resolve().then(() => jwt.authenticate(request))).resolves.toMatchObject({
        subject: 'alice',
      });
      now += 31_000;
      expect(keys.usable).toBe(false);
      expect(keys.everLoaded).toBe(true);
      await expect(Promise.resolve().then(() => jwt.authenticate(request))).rejects.toMatchObject({
        kind: 'unavailable',
      });
      // Open methods never look at keys.
      expect(
        jwt.authenticate({ grpcPath: '/grpc.health.v1.Health/Check', authorization: undefined }),
      ).toBe(ANONYMOUS);
    } finally {
      keys.close();
    }
  });

  it('rate-limits reloads for unknown keys to one per minRefreshMs', async () => {
    const key = await createKey('ES256', 'k');
    const file = path.join(dir, 'rate.json');
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    let now = 0;
    const keys = new JwksKeys({ file, now: () => now, minRefreshMs: 30_000 });
    try {
      await keys.start();
      for (let i = 0; i < 100; i++) await keys.refreshForUnknownKey();
      expect(keys.loads).toBe(1);
      now = 30_000;
      await Promise.all(Array.from({ length: 100 }, () => keys.refreshForUnknownKey()));
      expect(keys.loads).toBe(2);
    } finally {
      keys.close();
    }
  });

  it('refuses a JWKS holding private key material, and symmetric or none algorithms', async () => {
    const file = path.join(dir, 'private.json');
    writeFileSync(file, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    const errors: string[] = [];
    const keys = new JwksKeys({ file, onError: (error) => errors.push(error.message) });
    expect(await keys.start()).toBe(false);
    keys.close();
    expect(errors).toEqual([expect.stringMatching(/private or symmetric key material/)]);
    const base = { keys, issuer: ISSUER, audience: AUDIENCE, scopes: DEFAULT_SCOPES, services: [] };
    expect(() => new JwtAuthenticator({ ...base, algorithms: ['HS256'] })).toThrow(
      /not an asymmetric/,
    );
    expect(() => new JwtAuthenticator({ ...base, algorithms: ['none'] })).toThrow(
      /not an asymmetric/,
    );
    expect(() => new JwtAuthenticator({ ...base, hs256Secret: new Uint8Array(8) })).toThrow(
      /32 bytes/,
    );
  });
});

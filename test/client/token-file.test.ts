import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RouteGuideClient } from '../../src/client/client';
import { TokenFile } from '../../src/client/token-file';
import { cli } from '../helpers/cli';
import { createKey, JwksServer, jwtEnv, mint } from '../helpers/jwt-issuer';
import { killAll, servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { startTestServer, type TestServer } from '../helpers/server';

const POINT = { latitude: 409146138, longitude: -746188906 };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'token-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TokenFile', () => {
  it('re-reads a rotated file, keeps the last token while the file is mid-rotation', () => {
    const file = path.join(dir, 'rotating');
    writeFileSync(file, 'first\n');
    const token = new TokenFile(file);
    expect(token.read()).toBe('first');
    writeFileSync(file, 'second-and-longer');
    expect(token.read()).toBe('second-and-longer');
    writeFileSync(file, '');
    expect(token.read()).toBe('second-and-longer');
    rmSync(file);
    expect(token.read()).toBe('second-and-longer');
  });

  it('refuses a missing or empty file at start', () => {
    expect(() => new TokenFile(path.join(dir, 'absent'))).toThrow(/ENOENT/);
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, ' \n');
    expect(() => new TokenFile(empty)).toThrow(/expected one bearer token/);
  });
});

describe('--token-file and tokenFile against a JWT server', () => {
  let jwks: JwksServer;
  let server: TestServer;
  let key: Awaited<ReturnType<typeof createKey>>;

  beforeAll(async () => {
    key = await createKey('ES256', 'k1');
    jwks = await JwksServer.start([key]);
    server = await startTestServer({ env: jwtEnv(jwks.url) });
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('the client sends the current token of the file on every call', async () => {
    const file = path.join(dir, 'client-token');
    writeFileSync(file, await mint(key, { scope: 'routeguide.read' }));
    const client = new RouteGuideClient({ target: server.address, tokenFile: file });
    try {
      await expect(client.getFeature(POINT)).resolves.toBeDefined();
      writeFileSync(file, await mint(key, { scope: 'routeguide.write' }));
      await expect(client.getFeature(POINT)).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
      });
      writeFileSync(file, await mint(key, { scope: 'routeguide.read', sub: 'rotated' }));
      await expect(client.getFeature(POINT)).resolves.toBeDefined();
    } finally {
      client.close();
    }
    expect(() => new RouteGuideClient({ token: 'a', tokenFile: file })).toThrow(/not both/);
  });

  it('routeguide get --token-file', async () => {
    const file = path.join(dir, 'cli-token');
    writeFileSync(file, `${await mint(key, { scope: 'routeguide.read' })}\n`);
    const ok = await cli([
      'get',
      '409146138',
      '-746188906',
      '--target',
      server.address,
      '--token-file',
      file,
    ]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    const refused = await cli(['get', '409146138', '-746188906', '--target', server.address]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('UNAUTHENTICATED');
  });
});

describe('the built server (CommonJS) loads jose through require(esm)', () => {
  let process_: ServerProcess | undefined;
  afterEach(() => killAll(process_ ? [process_] : []));

  it('verifies a token with keys from AUTH_JWKS_FILE and warns without TLS', async () => {
    const key = await createKey('EdDSA', 'file-key');
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    process_ = spawnServer({
      AUTH_JWKS_FILE: file,
      AUTH_ISSUER: 'https://issuer.test',
      AUTH_AUDIENCE: 'routeguide',
    });
    const port = await servingPort(process_);
    const warn = await process_.waitForLog((l) => l['level'] === 'warn');
    expect(warn['msg']).toMatch(/JWT verification is on without TLS/);
    const token = await mint(key, { scope: 'routeguide.read' });
    const result = await cli([
      'get',
      '409146138',
      '-746188906',
      '--target',
      `127.0.0.1:${port}`,
      '--token',
      token,
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(process_.stderr()).not.toMatch(/ExperimentalWarning|ERR_REQUIRE_ESM/);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createKey, JwksServer, jwtEnv, mint } from '../helpers/jwt-issuer';
import { generatePythonStubs } from '../helpers/python-stubs';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const run = promisify(execFile);
const PYTHON = PROGRAMS.python3Grpcio.probe[0];

describe('a C-core client (python3-grpcio) sending JWT access tokens', () => {
  let server: TestServer | undefined;
  let jwks: JwksServer | undefined;
  let stubs: string;

  beforeAll(async () => {
    requireProgram(PROGRAMS.python3Grpcio);
    stubs = mkdtempSync(path.join(tmpdir(), 'routeguide-py-jwt-'));
    await generatePythonStubs(stubs);
    const key = await createKey('RS256', 'py-1');
    jwks = await JwksServer.start([key]);
    server = await startTestServer({ env: jwtEnv(jwks.url) });
  });

  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('metadata and access_token_call_credentials both authenticate; scopes apply per method', async () => {
    const key = jwks!.keys[0]!;
    const read = await mint(key, { scope: 'routeguide.read', sub: 'python' });
    const write = await mint(key, { scope: 'routeguide.write', sub: 'python' });
    const script = path.join(__dirname, 'python_jwt_client.py');
    const { stdout } = await run(PYTHON, [script, stubs, server!.address, read, write], {
      timeout: 30_000,
    });
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { check?: string; ok?: boolean; done?: boolean });
    expect(results.filter((r) => r.check !== undefined).map((r) => [r.check, r.ok])).toEqual([
      ['no token', true],
      ['GetFeature with metadata', true],
      ['RecordRoute with the read token', true],
      ['RecordRoute with the write token', true],
      ['a tampered token', true],
      ['GetFeature with access_token_call_credentials', true],
    ]);
    expect(results.at(-1)).toEqual({ done: true });
  });
});

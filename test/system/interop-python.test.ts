import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generatePythonStubs } from '../helpers/python-stubs';
import { CANONICAL_FILE } from '../helpers/canonical';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const run = promisify(execFile);
// Debian's interpreter, which has python3-grpcio and python3-grpc-tools (installed by .ci/run).
const PYTHON = PROGRAMS.python3Grpcio.probe[0];

describe('interop with python3-grpcio (an independent gRPC implementation)', () => {
  let server: TestServer | undefined;
  let stubs: string;

  beforeAll(async () => {
    requireProgram(PROGRAMS.python3Grpcio);
    stubs = mkdtempSync(path.join(tmpdir(), 'routeguide-py-'));
    await generatePythonStubs(stubs);
  });

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('calls all four RPCs with stubs generated from our proto and gets the expected answers', async () => {
    const script = path.join(__dirname, 'python_client.py');
    const { stdout } = await run(PYTHON, [script, stubs, server!.address, CANONICAL_FILE], {
      timeout: 30_000,
    });
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { check?: string; ok?: boolean; done?: boolean });
    expect(results.filter((r) => r.check !== undefined).map((r) => [r.check, r.ok])).toEqual([
      ['GetFeature hit', true],
      ['GetFeature miss', true],
      ['GetFeature invalid', true],
      ['ListFeatures count', true],
      ['ListFeatures order and content', true],
      ['RecordRoute', true],
      ['RouteChat', true],
    ]);
    expect(results.at(-1)).toEqual({ done: true });
  });
});

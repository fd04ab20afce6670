import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { generatePythonStubs } from '../helpers/python-stubs';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/**
 * A Python grpcio (C-core) client holds a RouteChat and a health Watch open for 80 s against a
 * server with the default configuration (MAX_CONNECTION_AGE_MS 30 s, keepalive 60 s): both
 * streams outlive the connection's max age and the server's keepalive, and a new call after
 * them goes through.
 */
const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const HOLD_SECONDS = 80;
const HEALTH_PROTO_ROOT = path.resolve(path.dirname(HEALTH_PROTO_PATH), '..', '..');

describe('long-lived streams from python3-grpcio (C-core)', () => {
  let stubs: string;
  let server: TestServer;

  beforeAll(async () => {
    requireProgram(PROGRAMS.python3Grpcio);
    stubs = mkdtempSync(path.join(tmpdir(), 'routeguide-long-'));
    await generatePythonStubs(stubs, {
      includeDirs: [HEALTH_PROTO_ROOT],
      files: ['health/v1/health.proto'],
    });
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it(
    `a RouteChat and a Watch open for ${HOLD_SECONDS} s end normally`,
    async () => {
      const { stdout } = await run(
        PYTHON,
        [path.join(__dirname, 'long_lived_client.py'), stubs, server.address, `${HOLD_SECONDS}`],
        { timeout: (HOLD_SECONDS + 40) * 1000 },
      );
      const result = JSON.parse(stdout) as {
        chat: { ended: string; sent: number; received: number; seconds: number };
        watch: { ended: string; statuses: string[]; seconds: number };
        getFeature: string;
      };
      expect(result.chat).toMatchObject({ ended: 'OK' });
      expect(result.chat.seconds).toBeGreaterThanOrEqual(HOLD_SECONDS);
      const sent = result.chat.sent;
      expect(result.chat.received).toBe((sent * (sent - 1)) / 2);
      // Ended by the client's own cancel after HOLD_SECONDS, never by the server or transport.
      expect(result.watch).toMatchObject({ statuses: ['SERVING'], ended: 'CANCELLED' });
      expect(result.watch.seconds).toBeGreaterThanOrEqual(HOLD_SECONDS);
      expect(result.getFeature).toBe('Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
    },
    (HOLD_SECONDS + 60) * 1000,
  );
});

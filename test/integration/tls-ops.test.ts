import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import { loadHealthClientConstructor, loadRouteGuideProto } from '../../src/protocol/proto';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { startTestServer, type TestServer } from '../helpers/server';

const run = promisify(execFile);
const HEALTHCHECK_JS = path.resolve(__dirname, '..', '..', 'dist', 'healthcheck.js');

/** The SHA-256 fingerprint of the certificate a new TLS connection to the port is shown. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

function fingerprintOf(file: string): string {
  return new X509Certificate(readFileSync(file)).fingerprint256;
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe().catch((error: unknown) => error as T);
    if (ok(value) || Date.now() > deadline) return value;
    await delay(100);
  }
}

function check(address: string, service = ''): Promise<string> {
  const Health = loadHealthClientConstructor();
  const client = new Health(address, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) =>
    client.Check({ service }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) =>
      e ? reject(e) : resolve(r!.status),
    ),
  ).finally(() => client.close());
}

describe('TLS operations', () => {
  let first: TestPki;
  let second: TestPki;
  let dir: string;
  let server: TestServer | undefined;
  let process_: ServerProcess | undefined;

  beforeAll(() => {
    first = createTestPki();
    second = createTestPki();
  });

  beforeEach(() => {
    // The server reads these paths; rotating means rewriting them in place.
    dir = mkdtempSync(path.join(tmpdir(), 'routeguide-rotate-'));
    copyFileSync(first.files.serverCert, path.join(dir, 'tls.crt'));
    copyFileSync(first.files.serverKey, path.join(dir, 'tls.key'));
    copyFileSync(first.files.ca, path.join(dir, 'ca.crt'));
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    process_?.kill();
    process_ = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  afterAll(() => {
    first?.remove();
    second?.remove();
  });

  const tlsEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    TLS_CERT_FILE: path.join(dir, 'tls.crt'),
    TLS_KEY_FILE: path.join(dir, 'tls.key'),
    ...extra,
  });

  it('serves health in plaintext on HEALTH_PORT, with the main port’s statuses and nothing else', async () => {
    server = await startTestServer({
      env: tlsEnv({ HEALTH_PORT: '0', SHUTDOWN_DELAY_MS: '1500' }),
    });
    const healthAddress = `127.0.0.1:${server.app.healthPort!}`;
    expect(await check(healthAddress)).toBe('SERVING');
    expect(await check(healthAddress, 'routeguide.RouteGuide')).toBe('SERVING');
    // Only health there: RouteGuide is UNIMPLEMENTED on the health port.
    const { proto } = loadRouteGuideProto();
    const plain = new proto.routeguide.RouteGuide(healthAddress, grpc.credentials.createInsecure());
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      plain.GetFeature({ latitude: 1, longitude: 1 }, (e) => resolve(e)),
    );
    plain.close();
    expect(error?.code).toBe(grpc.status.UNIMPLEMENTED);
    // The main port speaks TLS only: a plaintext health check there fails.
    await expect(check(`127.0.0.1:${server.app.port}`)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    // Shutdown: NOT_SERVING on the health port at once, through the delay.
    const stopped = server.app.shutdown(1000);
    expect(await check(healthAddress)).toBe('NOT_SERVING');
    await stopped;
    await expect(check(healthAddress)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('reloads a rotated certificate for new connections while an open stream goes on', async () => {
    server = await startTestServer({ env: tlsEnv({ TLS_RELOAD_INTERVAL_MS: '200' }) });
    const port = server.app.port;
    expect(await servedFingerprint(port)).toBe(fingerprintOf(first.files.serverCert));

    // A RouteChat over TLS, trusting both CAs so the client does not care which cert it sees.
    const { proto } = loadRouteGuideProto();
    const client = new proto.routeguide.RouteGuide(
      `localhost:${port}`,
      grpc.credentials.createSsl(
        Buffer.concat([readFileSync(first.files.ca), readFileSync(second.files.ca)]),
      ),
    );
    const chat = client.RouteChat();
    const received: RouteNote__Output[] = [];
    chat.on('data', (note: RouteNote__Output) => received.push(note));
    const ended = new Promise<grpc.StatusObject>((resolve) => chat.on('status', resolve));
    chat.on('error', () => undefined);
    const location = { latitude: 5, longitude: 5 };
    chat.write({ location, message: 'before' });
    chat.write({ location, message: 'before 2' });
    await eventually(
      async () => received.length,
      (n) => n === 1,
    );

    // Rotate in place (key first: a half-written pair is refused, then picked up next round).
    copyFileSync(second.files.serverKey, path.join(dir, 'tls.key'));
    copyFileSync(second.files.serverCert, path.join(dir, 'tls.crt'));
    const rotated = fingerprintOf(second.files.serverCert);
    expect(
      await eventually(
        () => servedFingerprint(port),
        (f) => f === rotated,
      ),
    ).toBe(rotated);

    // The stream opened before the rotation is still alive and ends normally.
    chat.write({ location, message: 'after' });
    chat.end();
    const status = await ended;
    client.close();
    expect(status.code).toBe(grpc.status.OK);
    expect(received.map((n) => n.message)).toEqual(['before', 'before', 'before 2']);
  });

  it('reloads the client CA bundle too (mutual TLS)', async () => {
    server = await startTestServer({
      env: tlsEnv({ TLS_CLIENT_CA_FILE: path.join(dir, 'ca.crt'), TLS_RELOAD_INTERVAL_MS: '200' }),
    });
    const { proto } = loadRouteGuideProto();
    const callWith = async (pki: TestPki): Promise<number> => {
      const client = new proto.routeguide.RouteGuide(
        `localhost:${server!.app.port}`,
        grpc.credentials.createSsl(
          readFileSync(first.files.ca),
          readFileSync(pki.files.clientKey),
          readFileSync(pki.files.clientCert),
        ),
      );
      const code = await new Promise<number>((resolve) =>
        client.GetFeature({ latitude: 1, longitude: 1 }, { deadline: Date.now() + 3000 }, (e) =>
          resolve(e ? e.code : grpc.status.OK),
        ),
      );
      client.close();
      return code;
    };
    expect(await callWith(first)).toBe(grpc.status.OK);
    expect(await callWith(second)).toBe(grpc.status.UNAVAILABLE);
    // Trust the second CA as well: its client certificates are accepted from then on.
    const both = Buffer.concat([readFileSync(first.files.ca), readFileSync(second.files.ca)]);
    writeFileSync(path.join(dir, 'ca.crt'), both);
    expect(
      await eventually(
        () => callWith(second),
        (code) => code === grpc.status.OK,
      ),
    ).toBe(grpc.status.OK);
  });

  it('the container healthcheck uses HEALTH_PORT; AUTH_TOKEN without TLS logs a warning', async () => {
    process_ = spawnServer(tlsEnv({ HEALTH_PORT: '0' }));
    await servingPort(process_);
    const serving = process_.logs.find((l) => l['msg'] === 'routeguide serving')!;
    const healthPort = serving['healthPort'] as number;
    expect(healthPort).toBeGreaterThan(0);
    const { stdout } = await run(process.execPath, [HEALTHCHECK_JS], {
      env: { PATH: process.env['PATH'] ?? '', ...tlsEnv({ HEALTH_PORT: String(healthPort) }) },
    });
    expect(stdout).toBe('healthcheck: (server) SERVING\n');
    expect(process_.logs.filter((l) => l['level'] === 'warn')).toEqual([]);
    process_.kill();

    process_ = spawnServer({ AUTH_TOKEN: 'secret' });
    await servingPort(process_);
    await process_.waitForLog((l) => l['level'] === 'warn');
    expect(process_.logs.filter((l) => l['level'] === 'warn')).toEqual([
      expect.objectContaining({
        msg: 'AUTH_TOKEN is set without TLS: bearer tokens cross the network in cleartext',
      }),
    ]);
  });
});

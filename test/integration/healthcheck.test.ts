import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { probeHealth } from '../../src/healthcheck';

/** The compiled probe the container image runs; `npm test` builds it first (pretest). */
const HEALTHCHECK_JS = path.resolve(__dirname, '..', '..', 'dist', 'healthcheck.js');

interface ProbeResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/healthcheck.js [service]` as the container's HEALTHCHECK does. */
function runProbe(env: Record<string, string>, args: string[] = []): Promise<ProbeResult> {
  if (!existsSync(HEALTHCHECK_JS))
    throw new Error(`${HEALTHCHECK_JS} is missing: run npm run build`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [HEALTHCHECK_JS, ...args],
      { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the container health probe', () => {
  let server: grpc.Server | undefined;
  let health: HealthImplementation;
  let port: number;

  beforeEach(async () => {
    health = new HealthImplementation({ '': 'SERVING', 'routeguide.RouteGuide': 'SERVING' });
    server = new grpc.Server();
    health.addToServer(server);
    port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
  });

  afterEach(() => {
    server?.forceShutdown();
    server = undefined;
  });

  it('reports the status of the server and of a named service', async () => {
    await expect(probeHealth({ port })).resolves.toBe('SERVING');
    health.setStatus('routeguide.RouteGuide', 'NOT_SERVING');
    await expect(probeHealth({ port, service: 'routeguide.RouteGuide' })).resolves.toBe(
      'NOT_SERVING',
    );
  });

  it('exits 0 when SERVING, on the port from PORT', async () => {
    const result = await runProbe({ PORT: String(port) });
    expect(result).toMatchObject({ code: 0, stdout: 'healthcheck: (server) SERVING\n' });
    const named = await runProbe({ PORT: String(port) }, ['routeguide.RouteGuide']);
    expect(named.code).toBe(0);
  });

  it('exits 1 when the server reports NOT_SERVING (e.g. while draining)', async () => {
    health.setStatus('', 'NOT_SERVING');
    const result = await runProbe({ PORT: String(port) });
    expect(result).toMatchObject({ code: 1, stdout: 'healthcheck: (server) NOT_SERVING\n' });
  });

  it('exits 1 for a service the server does not know', async () => {
    const result = await runProbe({ PORT: String(port) }, ['no.such.Service']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NOT_FOUND/);
  });

  it('exits 1 when nothing answers on the port', async () => {
    server!.forceShutdown();
    server = undefined;
    const result = await runProbe({ PORT: String(port) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^healthcheck: /);
  });

  it('exits 2 on an invalid configuration', async () => {
    const result = await runProbe({ PORT: 'not-a-port' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/PORT/);
  });
});

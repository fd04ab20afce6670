import { httpGet } from '../helpers/ops';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

describe('the server process: operability start-up', () => {
  let server: ServerProcess | undefined;

  afterEach(() => {
    server?.kill();
    server = undefined;
  });

  it('logs the metrics port it bound and serves /metrics there', async () => {
    server = spawnServer();
    await servingPort(server);
    const line = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    expect(line).toMatchObject({ tls: 'off', auth: false, reflection: true });
    const metricsPort = line['metricsPort'] as number;
    expect(metricsPort).toBeGreaterThan(0);
    const { status, body } = await httpGet(metricsPort, '/metrics');
    expect(status).toBe(200);
    expect(body).toContain('routeguide_features_loaded 100');
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('METRICS=false binds no metrics port', async () => {
    server = spawnServer({ METRICS: 'false' });
    await servingPort(server);
    const line = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    expect(line['metricsPort']).toBeUndefined();
  });

  it('exits 1 naming an unreadable TLS file', async () => {
    server = spawnServer({
      TLS_CERT_FILE: '/nonexistent/c.pem',
      TLS_KEY_FILE: '/nonexistent/k.pem',
    });
    expect((await server.exited).code).toBe(1);
    expect(server.stderr()).toContain('TLS file /nonexistent/c.pem cannot be read (ENOENT)');
    expect(server.logs.some((l) => l['msg'] === 'routeguide serving')).toBe(false);
  });

  it('exits 2 when only half of the TLS pair is set', async () => {
    server = spawnServer({ TLS_CERT_FILE: '/tmp/c.pem' });
    expect((await server.exited).code).toBe(2);
    expect(server.stderr()).toContain('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli } from '../helpers/cli';
import { AUDIENCE, createKey, ISSUER, mint } from '../helpers/jwt-issuer';
import { OTLP_SPAN_KIND, OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-jwt-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the caller's subject", () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterAll(async () => {
    server?.kill();
    await receiver.close();
  });

  it('is the server span enduser.id and in the call log lines, never a metric label', async () => {
    const key = await createKey('ES256', 'k1');
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    };
    server = spawnServer({
      ...otel,
      LOG_LEVEL: 'debug',
      AUTH_JWKS_FILE: file,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
    });
    const port = await servingPort(server);
    const serving = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    const token = await mint(key, { scope: 'routeguide.read', sub: 'alice@example' });
    const target = ['--target', `127.0.0.1:${port}`, '--token', token];
    expect(await cli(['get', '407838351', '-746143763', ...target], otel)).toMatchObject({
      code: 0,
    });
    const bad = await cli(['get', '1000000000', '0', ...target], otel);
    expect(bad.stderr).toContain('INVALID_ARGUMENT');

    const metrics = await fetch(`http://127.0.0.1:${serving['metricsPort'] as number}/metrics`);
    const text = await metrics.text();
    expect(text).toContain('GetFeature');
    expect(text).not.toContain('alice');

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const isServer = (s: ReceivedSpan) => s.kind === OTLP_SPAN_KIND.SERVER;
    const spans = (await receiver.waitFor((all) => all.filter(isServer).length >= 2)).filter(
      isServer,
    );
    expect(spans.map((s) => s.attributes['enduser.id'])).toEqual([
      'alice@example',
      'alice@example',
    ]);
    expect(server.logs.filter((l) => l['msg'] === 'call rejected')).toEqual([
      expect.objectContaining({ method: 'GetFeature', subject: 'alice@example' }),
    ]);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { cli } from '../helpers/cli';
import { AUDIENCE, createKey, ISSUER, mint } from '../helpers/jwt-issuer';
import { OTLP_SPAN_KIND, OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-jwt-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Which face a server span comes from: REST spans carry the HTTP method. */
const face = (span: ReceivedSpan) =>
  span.attributes['http.request.method'] === undefined ? 'grpc' : 'rest';

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

  it('is the server span enduser.id and in the call log lines on both faces, never a metric label', async () => {
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
    const rest = `http://127.0.0.1:${serving['restPort'] as number}`;
    const headers = { authorization: `Bearer ${token}` };
    expect((await fetch(`${rest}/v1/features/407838351/-746143763`, { headers })).status).toBe(200);
    expect((await fetch(`${rest}/v1/features/1000000000/0`, { headers })).status).toBe(400);
    expect((await fetch(`${rest}/v1/features/1/2`)).status).toBe(401);

    const metrics = await fetch(`http://127.0.0.1:${serving['metricsPort'] as number}/metrics`);
    const text = await metrics.text();
    expect(text).toContain('GetFeature');
    expect(text).not.toContain('alice');

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const isServer = (s: ReceivedSpan) => s.kind === OTLP_SPAN_KIND.SERVER;
    const spans = (await receiver.waitFor((all) => all.filter(isServer).length >= 5)).filter(
      isServer,
    );
    // The REST call refused for its missing token has a span too, with no subject.
    const refused = spans.filter((s) => s.attributes['rpc.grpc.status_code'] === 16);
    expect(refused.map((s) => [face(s), s.attributes['enduser.id']])).toEqual([
      ['rest', undefined],
    ]);
    const authenticated = spans.filter((s) => !refused.includes(s));
    expect(authenticated.map((s) => [face(s), s.attributes['enduser.id']]).sort()).toEqual([
      ['grpc', 'alice@example'],
      ['grpc', 'alice@example'],
      ['rest', 'alice@example'],
      ['rest', 'alice@example'],
    ]);
    expect(server.logs.filter((l) => l['msg'] === 'call rejected')).toEqual([
      expect.objectContaining({ method: 'GetFeature', subject: 'alice@example' }),
      expect.objectContaining({ method: 'GetFeature', subject: 'alice@example' }),
    ]);
    expect(server.logs.filter((l) => l['msg'] === 'call refused')).toEqual([
      expect.objectContaining({
        method: '/routeguide.RouteGuide/GetFeature',
        kind: 'unauthenticated',
        reason: expect.stringContaining('missing') as unknown,
      }),
    ]);
  });
});

/** GetFeature over gRPC with the test PKI's client certificate. */
function mtlsGetFeature(
  port: number,
  pki: TestPki,
  point = { latitude: 407838351, longitude: -746143763 },
): Promise<void> {
  const { proto } = loadRouteGuideProto();
  const credentials = grpc.credentials.createSsl(
    pki.read('ca'),
    pki.read('clientKey'),
    pki.read('clientCert'),
  );
  const client = new proto.routeguide.RouteGuide(`127.0.0.1:${port}`, credentials, {
    'grpc.ssl_target_name_override': 'localhost',
  });
  return new Promise<void>((resolve, reject) =>
    client.GetFeature(point, { deadline: Date.now() + 10_000 }, (error) =>
      error ? reject(error) : resolve(),
    ),
  ).finally(() => client.close());
}

/** GET over HTTPS with the test PKI's client certificate; resolves with the status. */
function mtlsRestGet(port: number, pki: TestPki, requestPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port,
          path: requestPath,
          agent: false,
          ca: pki.read('ca'),
          cert: pki.read('clientCert'),
          key: pki.read('clientKey'),
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      )
      .on('error', reject);
  });
}

describe('under mutual TLS without a token', () => {
  let receiver: OtlpReceiver;
  let pki: TestPki;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    pki = createTestPki();
  });
  afterAll(async () => {
    server?.kill();
    await receiver.close();
    pki.remove();
  });

  it("the client certificate's subject is the span enduser.id and the log subject, on gRPC and REST", async () => {
    server = spawnServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      METRICS: 'false',
      LOG_LEVEL: 'debug',
      TLS_CERT_FILE: pki.files.serverCert,
      TLS_KEY_FILE: pki.files.serverKey,
      TLS_CLIENT_CA_FILE: pki.files.ca,
    });
    const port = await servingPort(server);
    const serving = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    await mtlsGetFeature(port, pki);
    const restPort = serving['restPort'] as number;
    expect(await mtlsRestGet(restPort, pki, '/v1/features/407838351/-746143763')).toBe(200);
    await expect(mtlsGetFeature(port, pki, { latitude: 1000000000, longitude: 0 })).rejects.toThrow(
      'INVALID_ARGUMENT',
    );
    expect(await mtlsRestGet(restPort, pki, '/v1/features/1000000000/0')).toBe(400);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const isServer = (s: ReceivedSpan) => s.kind === OTLP_SPAN_KIND.SERVER;
    const spans = (await receiver.waitFor((all) => all.filter(isServer).length >= 4)).filter(
      isServer,
    );
    expect(spans.map((s) => [face(s), s.attributes['enduser.id']]).sort()).toEqual([
      ['grpc', 'CN=routeguide-client'],
      ['grpc', 'CN=routeguide-client'],
      ['rest', 'CN=routeguide-client'],
      ['rest', 'CN=routeguide-client'],
    ]);
    expect(server.logs.filter((l) => l['msg'] === 'call rejected')).toEqual([
      expect.objectContaining({ method: 'GetFeature', subject: 'CN=routeguide-client' }),
      expect.objectContaining({ method: 'GetFeature', subject: 'CN=routeguide-client' }),
    ]);
  });
});

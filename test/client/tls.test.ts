import * as grpc from '@grpc/grpc-js';
import { createRouteGuideClient } from '../../src/client/client';
import type { RouteGuideHandlers } from '../../src/generated/routeguide/RouteGuide';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { cli } from '../helpers/cli';

/** A mutual-TLS RouteGuide server on 127.0.0.1 whose GetFeature echoes the authorization header. */
async function startTlsServer(pki: TestPki): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  const { proto } = loadRouteGuideProto();
  const handlers: Partial<RouteGuideHandlers> = {
    GetFeature(call, callback) {
      const authorization = call.metadata.get('authorization')[0];
      callback(null, { name: `tls ${String(authorization ?? '-')}`, location: call.request });
    },
  };
  server.addService(proto.routeguide.RouteGuide.service, handlers as RouteGuideHandlers);
  const credentials = grpc.ServerCredentials.createSsl(
    pki.read('ca'),
    [{ cert_chain: pki.read('serverCert'), private_key: pki.read('serverKey') }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, server };
}

describe('TLS', () => {
  let pki: TestPki;
  let server: grpc.Server;
  let port: number;

  beforeAll(async () => {
    pki = createTestPki();
    ({ server, port } = await startTlsServer(pki));
  });
  afterAll(() => {
    server.forceShutdown();
    pki.remove();
  });

  it('the client speaks mutual TLS and sends its token', async () => {
    const client = createRouteGuideClient({
      target: `127.0.0.1:${port}`,
      tls: {
        ca: pki.read('ca'),
        cert: pki.read('clientCert'),
        key: pki.read('clientKey'),
        serverName: 'localhost',
      },
      token: 't0k',
    });
    try {
      const { value } = await client.getFeature({ latitude: 1, longitude: 2 });
      expect(value.name).toBe('tls Bearer t0k');
    } finally {
      client.close();
    }
    expect(() =>
      createRouteGuideClient({ target: 'localhost:1', tls: { cert: pki.read('clientCert') } }),
    ).toThrow('a TLS client certificate needs both cert and key');
  });

  it('the CLI takes --tls-ca/--tls-cert/--tls-key/--tls-server-name and --token', async () => {
    const tls = [
      ...['--target', `127.0.0.1:${port}`, '--tls-ca', pki.files.ca],
      ...['--tls-server-name', 'localhost'],
    ];
    const ok = await cli([
      ...['get', '1', '2', '--json', ...tls, '--token', 'abc'],
      ...['--tls-cert', pki.files.clientCert, '--tls-key', pki.files.clientKey],
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ feature: { name: 'tls Bearer abc' } });

    // Without a client certificate the server refuses the handshake.
    const refused = await cli(['get', '1', '2', '--deadline', '5000', ...tls]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^routeguide get: UNAVAILABLE: /);
    // Trusting nothing but the system roots, the client refuses the server.
    const untrusted = await cli([
      ...['get', '1', '2', '--tls', '--tls-server-name', 'localhost'],
      ...['--target', `127.0.0.1:${port}`, '--deadline', '5000'],
    ]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/^routeguide get: UNAVAILABLE: /);
  });
});

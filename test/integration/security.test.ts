import * as grpc from '@grpc/grpc-js';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import { createLogger } from '../../src/observability/logging';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { RouteGuideApp } from '../../src/server';
import { getFeature, listFeatures } from '../helpers/calls';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { check, healthClient } from '../helpers/ops';
import { ReflectionClient } from '../helpers/reflection-client';
import { startTestServer, testConfig, type TestServer } from '../helpers/server';

const POINT = { latitude: 409146138, longitude: -746188906 };
const NAME = 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA';

let pki: TestPki;
/** An unrelated CA and its client certificate. */
let stranger: TestPki;
beforeAll(() => {
  pki = createTestPki();
  stranger = createTestPki();
});
afterAll(() => {
  pki.remove();
  stranger.remove();
});

describe('TLS, mutual TLS and bearer tokens', () => {
  let server: TestServer | undefined;
  const clients: grpc.Client[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    server = undefined;
  });

  function client(credentials: grpc.ChannelCredentials): RouteGuideClient {
    const { proto } = loadRouteGuideProto();
    // The server certificate is for "localhost"; we dial 127.0.0.1.
    const c = new proto.routeguide.RouteGuide(server!.address, credentials, {
      'grpc.ssl_target_name_override': 'localhost',
    });
    clients.push(c);
    return c;
  }

  /** A call bounded in time, so a refused connection fails rather than waiting. */
  function getFeatureWithin(c: RouteGuideClient, metadata = new grpc.Metadata()) {
    return new Promise((resolve, reject) =>
      c.GetFeature(POINT, metadata, { deadline: Date.now() + 10_000 }, (error, feature) =>
        error ? reject(error) : resolve(feature),
      ),
    );
  }

  const trustingClient = () => grpc.credentials.createSsl(pki.read('ca'));

  it('TLS_CERT_FILE + TLS_KEY_FILE: a TLS client succeeds, a plaintext client fails', async () => {
    server = await startTestServer({
      env: { TLS_CERT_FILE: pki.files.serverCert, TLS_KEY_FILE: pki.files.serverKey },
    });
    const feature = await getFeature(client(trustingClient()), POINT);
    expect(feature.name).toBe(NAME);
    await expect(getFeatureWithin(client(grpc.credentials.createInsecure()))).rejects.toMatchObject(
      { code: grpc.status.UNAVAILABLE },
    );
    // A client that does not trust the CA refuses the server.
    await expect(
      getFeatureWithin(client(grpc.credentials.createSsl(stranger.read('ca')))),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('TLS_CLIENT_CA_FILE: only clients with a certificate from that CA get in', async () => {
    server = await startTestServer({
      env: {
        TLS_CERT_FILE: pki.files.serverCert,
        TLS_KEY_FILE: pki.files.serverKey,
        TLS_CLIENT_CA_FILE: pki.files.ca,
      },
    });
    const withCert = grpc.credentials.createSsl(
      pki.read('ca'),
      pki.read('clientKey'),
      pki.read('clientCert'),
    );
    expect((await getFeature(client(withCert), POINT)).name).toBe(NAME);
    await expect(getFeatureWithin(client(trustingClient()))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    const otherCa = grpc.credentials.createSsl(
      pki.read('ca'),
      stranger.read('clientKey'),
      stranger.read('clientCert'),
    );
    await expect(getFeatureWithin(client(otherCa))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('AUTH_TOKEN: RouteGuide needs the bearer token; health and reflection stay open', async () => {
    server = await startTestServer({ env: { AUTH_TOKEN: 's3cret-token' } });
    const c = server.client;
    const withAuth = (value: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', value);
      return metadata;
    };
    await expect(getFeatureWithin(c)).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining('missing'),
    });
    for (const wrong of [
      'Bearer wrong',
      'Bearer s3cret-token-and-more',
      'Bearer s3cret-toke',
      's3cret-token',
      'Basic s3cret-token',
    ]) {
      await expect(getFeatureWithin(c, withAuth(wrong))).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
    }
    expect(await getFeatureWithin(c, withAuth('Bearer s3cret-token'))).toMatchObject({
      name: NAME,
    });
    // Streams are checked by the same interceptor.
    const list = c.ListFeatures({ lo: POINT, hi: POINT });
    const error = await new Promise<grpc.ServiceError>((resolve) => list.on('error', resolve));
    expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
    // The replica header still reaches refused callers.
    expect(error.metadata.get('x-routeguide-replica')).toEqual(['test-replica']);

    const health = healthClient(server.address);
    expect(await check(health, '')).toBe('SERVING');
    health.close();
    const reflection = new ReflectionClient(server.address, 'v1');
    expect(await reflection.listServices()).toContain('routeguide.RouteGuide');
    reflection.close();
  });

  it('token over TLS with call credentials, as a production client does', async () => {
    server = await startTestServer({
      env: {
        TLS_CERT_FILE: pki.files.serverCert,
        TLS_KEY_FILE: pki.files.serverKey,
        AUTH_TOKEN: 'tok',
      },
    });
    const credentials = grpc.credentials.combineChannelCredentials(
      trustingClient(),
      grpc.credentials.createFromMetadataGenerator((_params, callback) => {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', 'Bearer tok');
        callback(null, metadata);
      }),
    );
    const features = await listFeatures(client(credentials), { lo: POINT, hi: POINT });
    expect(features.map((f) => f.name)).toEqual([NAME]);
    await expect(getFeatureWithin(client(trustingClient()))).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
  });

  it('refuses to start when a TLS file cannot be read, naming it', async () => {
    const config = testConfig({
      TLS_CERT_FILE: '/nonexistent/cert.pem',
      TLS_KEY_FILE: pki.files.serverKey,
    });
    const app = new RouteGuideApp({
      config,
      logger: createLogger('silent'),
      features: loadFeatureDatabase(config.featuresFile),
    });
    await expect(app.listen()).rejects.toThrow(
      'TLS file /nonexistent/cert.pem cannot be read (ENOENT)',
    );
    await app.shutdown(100);
  });
});

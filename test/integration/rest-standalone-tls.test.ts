import { setTimeout as delay } from 'node:timers/promises';
import { ConfigError } from '../../src/config';
import { createLogger } from '../../src/observability/logging';
import { StandaloneGateway } from '../../src/standalone-gateway';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { startTestServer, testConfig, type TestServer } from '../helpers/server';

const FEATURE = '/v1/features/409146138/-746188906';

/** A standalone gateway in front of `target` with the extra variables, listening on 127.0.0.1:0. */
async function startGateway(
  target: string,
  env: Record<string, string>,
): Promise<{ gateway: StandaloneGateway; url: string }> {
  const gateway = new StandaloneGateway({
    config: testConfig({ GATEWAY_TARGET: target, METRICS: 'false', ...env }),
    logger: createLogger('silent'),
  });
  return { gateway, url: `http://127.0.0.1:${await gateway.listen()}` };
}

/** `/healthz`'s status once it settles on `expected` (the target is polled every 2 s). */
async function healthz(url: string, expected: number): Promise<number> {
  let status = 0;
  for (let i = 0; i < 60; i++) {
    status = (await fetch(`${url}/healthz`)).status;
    if (status === expected) return status;
    await delay(100);
  }
  return status;
}

describe('standalone gateway to a TLS target', () => {
  let pki: TestPki;
  let other: TestPki;
  let server: TestServer;
  let mutual: TestServer;
  const gateways: StandaloneGateway[] = [];

  beforeAll(async () => {
    pki = createTestPki();
    other = createTestPki();
    const tls = { TLS_CERT_FILE: pki.files.serverCert, TLS_KEY_FILE: pki.files.serverKey };
    server = await startTestServer({ env: { ...tls, REST: 'false' } });
    mutual = await startTestServer({
      env: { ...tls, TLS_CLIENT_CA_FILE: pki.files.ca, REST: 'false' },
    });
  });
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.shutdown(200)));
    await server.close();
    await mutual.close();
    pki.remove();
    other.remove();
  });

  async function gatewayTo(target: TestServer, env: Record<string, string>): Promise<string> {
    const { gateway, url } = await startGateway(target.address, env);
    gateways.push(gateway);
    return url;
  }

  it('forwards GetFeature over TLS verified with GATEWAY_TARGET_CA_FILE; /healthz follows the target', async () => {
    const url = await gatewayTo(server, {
      GATEWAY_TARGET_CA_FILE: pki.files.ca,
      GATEWAY_TARGET_SERVER_NAME: 'localhost',
    });
    const ok = await fetch(`${url}${FEATURE}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ location: { latitude: 409146138 } });
    expect(ok.headers.get('grpc-metadata-x-routeguide-replica')).toBe('test-replica');
    expect(await healthz(url, 200)).toBe(200);
  });

  it('presents its client certificate to a target that requires mutual TLS', async () => {
    const url = await gatewayTo(mutual, {
      GATEWAY_TARGET_CA_FILE: pki.files.ca,
      GATEWAY_TARGET_CERT_FILE: pki.files.clientCert,
      GATEWAY_TARGET_KEY_FILE: pki.files.clientKey,
      GATEWAY_TARGET_SERVER_NAME: 'localhost',
    });
    const ok = await fetch(`${url}${FEATURE}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ location: { longitude: -746188906 } });
    expect(await healthz(url, 200)).toBe(200);
  });

  it('without its client certificate, a mutual TLS target answers 503 UNAVAILABLE', async () => {
    const url = await gatewayTo(mutual, {
      GATEWAY_TARGET_CA_FILE: pki.files.ca,
      GATEWAY_TARGET_SERVER_NAME: 'localhost',
    });
    const refused = await fetch(`${url}${FEATURE}`, { headers: { 'grpc-timeout': '5S' } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 14 });
    expect(await healthz(url, 503)).toBe(503);
  });

  it('fails closed on a certificate another CA signed, and on plaintext to a TLS port', async () => {
    const wrongCa = await gatewayTo(server, {
      GATEWAY_TARGET_CA_FILE: other.files.ca,
      GATEWAY_TARGET_SERVER_NAME: 'localhost',
    });
    const refused = await fetch(`${wrongCa}${FEATURE}`, { headers: { 'grpc-timeout': '5S' } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 14 });
    expect(await healthz(wrongCa, 503)).toBe(503);
    // The bundled public roots do not trust the test CA either.
    const publicRoots = await gatewayTo(server, {
      GATEWAY_TARGET_TLS: 'true',
      GATEWAY_TARGET_SERVER_NAME: 'localhost',
    });
    const untrusted = await fetch(`${publicRoots}${FEATURE}`, {
      headers: { 'grpc-timeout': '5S' },
    });
    expect(untrusted.status).toBe(503);
    // A name the certificate does not carry.
    const wrongName = await gatewayTo(server, {
      GATEWAY_TARGET_CA_FILE: pki.files.ca,
      GATEWAY_TARGET_SERVER_NAME: 'routeguide.example',
    });
    const misnamed = await fetch(`${wrongName}${FEATURE}`, { headers: { 'grpc-timeout': '5S' } });
    expect(misnamed.status).toBe(503);
    const plaintext = await gatewayTo(server, {});
    const cleartext = await fetch(`${plaintext}${FEATURE}`, { headers: { 'grpc-timeout': '5S' } });
    expect(cleartext.status).toBe(503);
  });

  it('an unreadable file is a ConfigError naming its variable', () => {
    const config = testConfig({
      GATEWAY_TARGET: server.address,
      GATEWAY_TARGET_CA_FILE: `${pki.dir}/absent.pem`,
    });
    const build = () => new StandaloneGateway({ config, logger: createLogger('silent') });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/GATEWAY_TARGET_CA_FILE: cannot read .*absent\.pem \(ENOENT\)/);
  });
});

import * as https from 'node:https';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { httpRequest } from '../helpers/rest';
import { startTestServer, type TestServer } from '../helpers/server';

/** GET over HTTPS to localhost with the test CA, optionally with the client certificate. */
function httpsGet(port: number, pki: TestPki, client: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: '/v1/features/1/2',
        ca: pki.read('ca'),
        agent: false,
        ...(client ? { cert: pki.read('clientCert'), key: pki.read('clientKey') } : {}),
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
  });
}

describe('REST port with the gRPC port TLS files', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createTestPki();
  });
  afterAll(() => pki.remove());

  it('TLS: HTTPS with the same certificate, plaintext refused', async () => {
    const server: TestServer = await startTestServer({
      env: { TLS_CERT_FILE: pki.files.serverCert, TLS_KEY_FILE: pki.files.serverKey },
    });
    try {
      const port = server.app.restPort!;
      expect(await httpsGet(port, pki, false)).toBe(200);
      await expect(httpRequest(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it('mutual TLS: a client certificate is required', async () => {
    const server: TestServer = await startTestServer({
      env: {
        TLS_CERT_FILE: pki.files.serverCert,
        TLS_KEY_FILE: pki.files.serverKey,
        TLS_CLIENT_CA_FILE: pki.files.ca,
      },
    });
    try {
      const port = server.app.restPort!;
      expect(await httpsGet(port, pki, true)).toBe(200);
      await expect(httpsGet(port, pki, false)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });
});

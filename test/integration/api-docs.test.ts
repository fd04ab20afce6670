import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApiDocs } from '../../src/gateway/api-docs';
import { httpBindings } from '../../src/gateway/http-rules';
import { buildOpenApiDocument } from '../../src/gateway/openapi';
import { loadRouteGuideProto } from '../../src/protocol/proto';

const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** A raw request whose path is sent exactly as given (fetch would normalize `..`). */
function rawGet(
  port: number,
  rawPath: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ApiDocs on a plain HTTP server', () => {
  const { packageDefinition } = loadRouteGuideProto();
  const document = buildOpenApiDocument({
    bindings: httpBindings(packageDefinition),
    packageDefinition,
  });
  let server: Server;
  let base: string;
  let port: number;

  beforeAll(async () => {
    const docs = new ApiDocs({ document });
    server = createServer((req, res) => {
      if (!docs.handle(req, res))
        res.writeHead(418, { 'content-type': 'text/plain' }).end('router');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves the document at /openapi.json with an ETag, 304 when it matches, and HEAD', async () => {
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(document)));
    const etag = response.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{27}"$/);

    const again = await fetch(`${base}/openapi.json`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    const head = await rawGet(port, '/openapi.json', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBe(
      Buffer.byteLength(JSON.stringify(document)),
    );
    expect(head.headers.etag).toBe(etag);
  });

  it('redirects /docs to docs/ and serves the Swagger UI page, which loads nothing remote', async () => {
    const redirect = await fetch(`${base}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('docs/');

    const page = await fetch(`${base}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<title>RouteGuide REST API</title>');
    expect(html).toMatch(/src="\.\/swagger-ui-bundle\.js\?v=5\.\d+\.\d+"/);
    expect(html).toContain('src="./swagger-initializer.js"');
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${base}/docs/index.html`)).status).toBe(200);

    const init = await fetch(`${base}/docs/swagger-initializer.js`);
    expect(init.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const script = await init.text();
    expect(script).toContain("new URL('../openapi.json', window.location.href)");
    expect(script).toContain('validatorUrl: null');
    expect(script).not.toMatch(/https?:\/\//);
  });

  it('serves whitelisted swagger-ui-dist assets with their type, cache headers and gzip', async () => {
    const bundle = await fetch(`${base}/docs/swagger-ui-bundle.js?v=1`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(bundle.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(bundle.headers.get('content-encoding')).toBe('gzip'); // fetch asks for it, and inflates
    expect(bundle.headers.get('x-content-type-options')).toBe('nosniff');
    const bytes = Buffer.from(await bundle.arrayBuffer());
    expect(bytes.equals(readFileSync(path.join(SWAGGER_UI_DIR, 'swagger-ui-bundle.js')))).toBe(
      true,
    );

    const plain = await rawGet(port, '/docs/swagger-ui.css');
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(readFileSync(path.join(SWAGGER_UI_DIR, 'swagger-ui.css'), 'utf8'));

    const icon = await fetch(`${base}/docs/favicon-32x32.png`);
    expect(icon.headers.get('content-type')).toBe('image/png');
    expect(icon.headers.get('content-encoding')).toBeNull();
  });

  it.each([
    '/docs/../package.json',
    '/docs/%2e%2e/package.json',
    '/docs/..%2fpackage.json',
    '/docs/./swagger-ui.css',
    '/docs//swagger-ui.css',
    '/docs/package.json',
    '/docs/swagger-ui-bundle.js.map',
    '/docs/swagger-initializer.js/',
    '/docs/constructor',
    '/docs/__proto__',
  ])('answers 404 for %s (nothing outside the whitelist)', async (rawPath) => {
    const response = await rawGet(port, rawPath);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body)).toMatchObject({ code: 5, details: [] });
  });

  it('answers 405 with Allow for other methods, and leaves other paths to the router', async () => {
    const post = await fetch(`${base}/openapi.json`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(await post.json()).toMatchObject({ code: 12 });
    for (const p of ['/', '/v1/features', '/openapi.yaml', '/docsx', '/healthz']) {
      const response = await fetch(`${base}${p}`);
      expect([p, response.status, await response.text()]).toEqual([p, 418, 'router']);
    }
  });

  it('refuses at construction, naming swagger-ui-dist, when its files are missing', () => {
    expect(() => new ApiDocs({ document, swaggerUiDir: path.join(__dirname, 'nowhere') })).toThrow(
      /swagger-ui-dist lacks swagger-ui\.css/,
    );
  });
});

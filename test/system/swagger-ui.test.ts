import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Locator } from 'playwright-core';
import { ApiDocs } from '../../src/gateway/api-docs';
import { httpBindings } from '../../src/gateway/http-rules';
import { buildOpenApiDocument } from '../../src/gateway/openapi';
import { loadProtoComments } from '../../src/gateway/proto-comments';
import {
  loadRouteGuideProto,
  PROTO_LOADER_OPTIONS,
  ROUTE_GUIDE_PROTO,
} from '../../src/protocol/proto';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const FEATURE = {
  name: 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA',
  location: { latitude: 409146138, longitude: -746188906 },
};
const TOKEN = 'swagger-ui-test-token';

/** Debian's chromium, headless, with nothing that phones home: no browser download ever. */
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Swagger UI at /docs/ in a real browser, driving "Authorize" and "Try it out" like a user. */
describe('Swagger UI in headless Chromium', () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let base: string;
  const authorizations: (string | undefined)[] = [];

  beforeAll(async () => {
    requireProgram(PROGRAMS.chromium);
    const { packageDefinition } = loadRouteGuideProto();
    const document = buildOpenApiDocument({
      bindings: httpBindings(packageDefinition),
      packageDefinition,
      comments: loadProtoComments(ROUTE_GUIDE_PROTO, PROTO_LOADER_OPTIONS.includeDirs ?? []),
    });
    const docs = new ApiDocs({ document });
    server = createServer((req, res) => {
      if (docs.handle(req, res)) return;
      if (standInGetFeature(req, res)) return;
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"code":5,"message":"no route"}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: LAUNCH_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  // stand-in until the gateway serves this: replace with startTestServer's REST port
  function standInGetFeature(req: IncomingMessage, res: ServerResponse): boolean {
    const match = /^\/v1\/features\/(-?\d+)\/(-?\d+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || match === null) return false;
    authorizations.push(req.headers.authorization);
    const known =
      Number(match[1]) === FEATURE.location.latitude &&
      Number(match[2]) === FEATURE.location.longitude;
    const body = known
      ? FEATURE
      : { name: '', location: { latitude: Number(match[1]), longitude: Number(match[2]) } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return true;
  }

  it('lists the four RouteGuide operations and runs GetFeature with Authorize and Try it out', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const foreign: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(`${base}/`) && !request.url().startsWith('data:')) {
        foreign.push(request.url());
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      await page.goto(`${base}/docs`);
      expect(page.url()).toBe(`${base}/docs/`);
      const operations = page.locator('.opblock[id^="operations-RouteGuide-"]');
      await expect(waitForCount(operations, 4)).resolves.toBe(4);
      const ids = await operations.evaluateAll((nodes) => nodes.map((n) => n.id));
      expect(ids).toEqual([
        'operations-RouteGuide-RouteGuide_GetFeature',
        'operations-RouteGuide-RouteGuide_ListFeatures',
        'operations-RouteGuide-RouteGuide_RecordRoute',
        'operations-RouteGuide-RouteGuide_RouteChat',
      ]);

      await page.locator('button.authorize').first().click();
      const dialog = page.locator('.dialog-ux');
      await dialog.locator('input').first().fill(TOKEN);
      await dialog.locator('button.modal-btn.auth.authorize').click();
      await dialog.locator('button.btn-done').click();

      const getFeature = page.locator('#operations-RouteGuide-RouteGuide_GetFeature');
      await getFeature.locator('.opblock-summary-control').click();
      await getFeature.locator('button.try-out__btn').click();
      await getFeature.locator('tr[data-param-name="latitude"] input').fill('409146138');
      await getFeature.locator('tr[data-param-name="longitude"] input').fill('-746188906');
      await getFeature.locator('button.execute').click();
      const live = getFeature.locator('.live-responses-table');
      await live
        .getByText('Berkshire Valley Management Area Trail', { exact: false })
        .first()
        .waitFor();
      expect(await live.locator('tbody .response-col_status').first().innerText()).toContain('200');
      expect(authorizations).toEqual([`Bearer ${TOKEN}`]);
      expect(foreign).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

/** Waits (bounded) until the locator matches `count` elements; resolves with the last count. */
async function waitForCount(locator: Locator, count: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  let seen = await locator.count();
  while (seen !== count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = await locator.count();
  }
  return seen;
}

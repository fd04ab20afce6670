import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const BERKSHIRE = 'Berkshire Valley Management Area Trail';
const TOKEN = 'swagger-ui-test-token';

/**
 * Swagger UI at /docs/ of a real server's REST port in a real browser, driving "Authorize" and
 * "Try it out" like a user: the calls reach the server's own handlers and authenticator.
 */
describe('Swagger UI in headless Chromium against the real server', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    requireProgram(PROGRAMS.chromium);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** A server (REST on a free port), a page on its /docs/, and what the page did. */
  async function openDocs(env: Record<string, string>) {
    const server = await startTestServer({ env });
    const context = await browser!.newContext();
    const page = await context.newPage();
    const base = server.restUrl;
    const foreign: string[] = [];
    const problems: string[] = [];
    const authorizations: (string | undefined)[] = [];
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${base}/`) && !url.startsWith('data:')) foreign.push(url);
      if (url.startsWith(`${base}/v1/`)) authorizations.push(request.headers().authorization);
    });
    page.on('console', (message) => {
      // A 401 the test provokes is logged by Chromium as a failed resource load.
      if (message.type() === 'error' && !message.text().includes('401')) {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${base}/docs`);
    expect(page.url()).toBe(`${base}/docs/`);
    return {
      server,
      page,
      foreign,
      problems,
      authorizations,
      async close() {
        await context.close();
        await server.close();
      },
    };
  }

  it('lists the four RouteGuide operations and runs GetFeature with Try it out', async () => {
    const docs = await openDocs({});
    try {
      const operations = docs.page.locator('.opblock[id^="operations-RouteGuide-"]');
      await expect(waitForCount(operations, 4)).resolves.toBe(4);
      const ids = await operations.evaluateAll((nodes) => nodes.map((n) => n.id));
      expect(ids).toEqual([
        'operations-RouteGuide-RouteGuide_GetFeature',
        'operations-RouteGuide-RouteGuide_ListFeatures',
        'operations-RouteGuide-RouteGuide_RecordRoute',
        'operations-RouteGuide-RouteGuide_RouteChat',
      ]);
      const getFeature = calls(docs.server, 'GetFeature');
      const result = await tryGetFeature(docs.page);
      expect(result.status).toBe('200');
      expect(result.body).toContain(BERKSHIRE);
      expect(getFeature.started).toBe(1);
      expect(docs.authorizations).toEqual([undefined]);
      expect(docs.foreign).toEqual([]);
      expect(docs.problems).toEqual([]);
    } finally {
      await docs.close();
    }
  });

  it('with AUTH_TOKEN: 401 before Authorize, the feature after it', async () => {
    const docs = await openDocs({ AUTH_TOKEN: TOKEN });
    try {
      await waitForCount(docs.page.locator('.opblock[id^="operations-RouteGuide-"]'), 4);
      const refused = await tryGetFeature(docs.page);
      expect(refused.status).toBe('401');
      expect(refused.body).toContain('"code": 16');

      await docs.page.locator('button.authorize').first().click();
      const dialog = docs.page.locator('.dialog-ux');
      await dialog.locator('input').first().fill(TOKEN);
      await dialog.locator('button.modal-btn.auth.authorize').click();
      await dialog.locator('button.btn-done').click();

      const accepted = await tryGetFeature(docs.page);
      expect(accepted.status).toBe('200');
      expect(accepted.body).toContain(BERKSHIRE);
      expect(docs.authorizations).toEqual([undefined, `Bearer ${TOKEN}`]);
      const counters = calls(docs.server, 'GetFeature');
      expect(counters.handled[16]).toBe(1);
      expect(counters.handled[0]).toBe(1);
      expect(docs.foreign).toEqual([]);
      expect(docs.problems).toEqual([]);
    } finally {
      await docs.close();
    }
  });
});

/** The server's gRPC call counters of a unary RouteGuide method (REST calls count there too). */
function calls(server: TestServer, method: string) {
  return server.app.calls.forMethod(`/routeguide.RouteGuide/${method}`, false, false);
}

/**
 * "Try it out" on GetFeature at Berkshire Valley (the first time it opens the operation and
 * turns on try-out mode); resolves with the live response's status and body once it shows.
 */
async function tryGetFeature(page: Page): Promise<{ status: string; body: string }> {
  const getFeature = page.locator('#operations-RouteGuide-RouteGuide_GetFeature');
  const execute = getFeature.locator('button.execute');
  if ((await execute.count()) === 0) {
    await getFeature.locator('.opblock-summary-control').click();
    await getFeature.locator('button.try-out__btn').click();
    await getFeature.locator('tr[data-param-name="latitude"] input').fill('409146138');
    await getFeature.locator('tr[data-param-name="longitude"] input').fill('-746188906');
  }
  const live = getFeature.locator('.live-responses-table');
  // A previous response stays on show: clear it so the next one is the one awaited.
  const clear = getFeature.locator('button.btn-clear');
  if ((await clear.count()) > 0) await clear.first().click();
  await getFeature.locator('button.execute').click();
  const status = live.locator('tbody .response-col_status').first();
  await status.waitFor();
  const body = live.locator('.response-col_description .microlight, .response-col_description pre');
  await body.first().waitFor();
  return { status: (await status.innerText()).trim(), body: await body.first().innerText() };
}

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

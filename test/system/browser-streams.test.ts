import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { CANONICAL_FILE } from '../helpers/canonical';
import { launchChromium } from '../helpers/chromium';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const TOKEN = 'browser-streams-token';
const BOX = { lo: [400000000, -750000000], hi: [420000000, -730000000] } as const;
const LIST_QUERY =
  `lo.latitude=${BOX.lo[0]}&lo.longitude=${BOX.lo[1]}` +
  `&hi.latitude=${BOX.hi[0]}&hi.longitude=${BOX.hi[1]}`;
/** Longer than Chromium's EventSource reconnection delay (3 s): a reconnect would show. */
const RECONNECT_WATCH_MS = 4000;

/**
 * The test page's script: what a browser application on another origin would write, with the
 * browser's own EventSource and WebSocket. Each function resolves with what it saw.
 */
const PAGE_SCRIPT = `
window.runEventSource = (url) => new Promise((resolve) => {
  const seen = { results: 0, names: [], ends: 0, errors: 0, opens: 0 };
  const source = new EventSource(url);
  source.onopen = () => seen.opens++;
  source.addEventListener('result', (e) => {
    seen.results++;
    seen.names.push(JSON.parse(e.data).name);
  });
  source.addEventListener('end', () => {
    seen.ends++;
    source.close();
    resolve(seen);
  });
  source.addEventListener('error', (e) => {
    seen.errors++;
    seen.errorData = e.data === undefined ? null : JSON.parse(e.data);
    seen.readyState = source.readyState;
    source.close();
    resolve(seen);
  });
});
window.runChat = (url, notes) => new Promise((resolve) => {
  const seen = { messages: [], close: null };
  const ws = new WebSocket(url);
  ws.onopen = () => {
    for (const note of notes) ws.send(JSON.stringify(note));
    ws.send(''); // no more notes
  };
  ws.onmessage = (e) => seen.messages.push(JSON.parse(e.data));
  ws.onclose = (e) => {
    seen.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
    resolve(seen);
  };
});
`;

/** A page on its own loopback origin (another port than the REST port's) running PAGE_SCRIPT. */
async function startPageServer(): Promise<{ server: Server; origin: string }> {
  const html = `<!doctype html><html><head><title>streams</title><script>${PAGE_SCRIPT}</script></head><body>streams</body></html>`;
  const server = createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface EventSourceSeen {
  results: number;
  names: string[];
  ends: number;
  errors: number;
  opens: number;
  readyState?: number;
  errorData?: unknown;
}

interface ChatSeen {
  messages: Record<string, unknown>[];
  close: { code: number; reason: string; wasClean: boolean };
}

/** The page script's EventSource run (PAGE_SCRIPT's runEventSource). */
function runEventSource(page: Page, url: string): Promise<EventSourceSeen> {
  return page.evaluate<EventSourceSeen>(`runEventSource(${JSON.stringify(url)})`);
}

/** The page script's WebSocket RouteChat (PAGE_SCRIPT's runChat). */
function runChat(page: Page, url: string, notes: unknown[]): Promise<ChatSeen> {
  return page.evaluate<ChatSeen>(`runChat(${JSON.stringify(url)}, ${JSON.stringify(notes)})`);
}

/**
 * Chromium's own EventSource and WebSocket on a page of another loopback origin, listed in the
 * server's REST_CORS_ORIGINS, authenticating with `access_token` against a server with
 * AUTH_TOKEN: ListFeatures as Server-Sent Events, RouteChat full duplex.
 */
describe('EventSource and WebSocket from a browser page on another origin', () => {
  let browser: Browser | undefined;
  let allowed: { server: Server; origin: string };
  let other: { server: Server; origin: string };
  let server: TestServer;
  let context: BrowserContext;
  let page: Page;
  const streamRequests: string[] = [];

  beforeAll(async () => {
    requireProgram(PROGRAMS.chromium);
    allowed = await startPageServer();
    other = await startPageServer();
    server = await startTestServer({
      env: { AUTH_TOKEN: TOKEN, REST_CORS_ORIGINS: allowed.origin },
    });
    browser = await launchChromium();
  });

  beforeEach(async () => {
    context = await browser!.newContext();
    page = await context.newPage();
    streamRequests.length = 0;
    page.on('request', (request) => {
      if (request.url().startsWith(`${server.restUrl}/v1/`)) streamRequests.push(request.url());
    });
    await page.goto(`${allowed.origin}/`);
  });

  afterEach(async () => {
    await context?.close();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    for (const page of [allowed, other]) {
      page?.server.closeAllConnections();
      await new Promise<void>((resolve) => (page ? page.server.close(() => resolve()) : resolve()));
    }
  });

  const listFeatures = () =>
    server.app.calls.forMethod('/routeguide.RouteGuide/ListFeatures', false, true);
  const routeChat = () =>
    server.app.calls.forMethod('/routeguide.RouteGuide/RouteChat', true, true);

  it('EventSource: every feature as a result event, then end; closed on end, never re-run', async () => {
    const expected = loadFeatureDatabase(CANONICAL_FILE).indexesWithin({
      minLatitude: BOX.lo[0],
      maxLatitude: BOX.hi[0],
      minLongitude: BOX.lo[1],
      maxLongitude: BOX.hi[1],
    }).length;
    const before = listFeatures().started;
    const url = `${server.restUrl}/v1/features?${LIST_QUERY}&access_token=${TOKEN}`;
    const seen = await runEventSource(page, url);
    expect(seen).toMatchObject({ results: expected, ends: 1, errors: 0, opens: 1 });
    expect(expected).toBeGreaterThan(10);
    expect(seen.names).toContain('Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
    // An EventSource left open would reconnect after its retry delay and run the call again.
    await page.waitForTimeout(RECONNECT_WATCH_MS);
    expect(listFeatures().started - before).toBe(1);
    expect(listFeatures().handled[0]).toBeGreaterThanOrEqual(1);
    expect(streamRequests).toEqual([url]);
    console.log(
      `EventSource: ${seen.results} result events, 1 end, ${streamRequests.length} request in ${RECONNECT_WATCH_MS} ms after end`,
    );
  });

  it('EventSource without access_token: 401, the browser gives up (no retry)', async () => {
    const before = listFeatures().handled[16] ?? 0;
    const url = `${server.restUrl}/v1/features?${LIST_QUERY}`;
    const seen = await runEventSource(page, url);
    expect(seen).toMatchObject({ results: 0, ends: 0, errors: 1, opens: 0, readyState: 2 });
    expect(listFeatures().handled[16]! - before).toBe(1);
  });

  it('EventSource from an origin not in REST_CORS_ORIGINS cannot read the stream', async () => {
    await page.goto(`${other.origin}/`);
    const url = `${server.restUrl}/v1/features?${LIST_QUERY}&access_token=${TOKEN}`;
    const seen = await runEventSource(page, url);
    expect(seen).toMatchObject({ results: 0, ends: 0, errors: 1 });
  });

  it('WebSocket RouteChat: notes out, earlier notes back, half-close, status OK, close 1000', async () => {
    const here = { latitude: 101, longitude: 202 };
    const there = { latitude: 303, longitude: 404 };
    const notes = [
      { location: here, message: 'one' },
      { location: here, message: 'two' },
      { location: there, message: 'elsewhere' },
      { location: here, message: 'three' },
    ];
    const before = routeChat().handled[0] ?? 0;
    const url = `${server.restUrl.replace('http:', 'ws:')}/v1/notes:chat?access_token=${TOKEN}`;
    const seen = await runChat(page, url, notes);
    // RouteChat replays, for each note, the notes sent earlier to its location.
    expect(seen.messages).toEqual([
      { location: here, message: 'one' },
      { location: here, message: 'one' },
      { location: here, message: 'two' },
      { status: { code: 0, message: 'OK', details: [] } },
    ]);
    expect(seen.close).toMatchObject({ code: 1000, wasClean: true });
    expect(routeChat().handled[0]! - before).toBe(1);
    console.log(`WebSocket: ${seen.messages.length - 1} replays, close ${seen.close.code}`);
  });

  it('WebSocket without access_token: opened, then the status and close 4016', async () => {
    const url = `${server.restUrl.replace('http:', 'ws:')}/v1/notes:chat`;
    const seen = await runChat(page, url, [
      { location: { latitude: 1, longitude: 1 }, message: 'x' },
    ]);
    expect(seen.messages).toEqual([{ status: expect.objectContaining({ code: 16 }) }]);
    expect(seen.close.code).toBe(4016);
  });

  it('WebSocket from an origin not in REST_CORS_ORIGINS: refused before the handshake', async () => {
    await page.goto(`${other.origin}/`);
    const before = routeChat().started;
    const url = `${server.restUrl.replace('http:', 'ws:')}/v1/notes:chat?access_token=${TOKEN}`;
    const seen = await runChat(page, url, []);
    expect(seen.messages).toEqual([]);
    expect(seen.close).toMatchObject({ code: 1006, wasClean: false });
    expect(routeChat().started).toBe(before);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Feature__Output } from '../../src/generated/routeguide/Feature';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { eventually, getFeature, openChat } from '../helpers/calls';
import { check, healthClient, scrape } from '../helpers/ops';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-shutdown-'));
const BIG_FILE = path.join(dir, 'features.json');
const BIG_COUNT = 20_000;
writeFileSync(
  BIG_FILE,
  JSON.stringify(
    Array.from({ length: BIG_COUNT }, (_, i) => ({
      name: `feature ${i} ${'x'.repeat(40)}`,
      location: { latitude: i, longitude: 0 },
    })),
  ),
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BOX = { lo: { latitude: 0, longitude: 0 }, hi: { latitude: BIG_COUNT, longitude: 0 } };

/** A client interceptor that holds every outgoing message until `release()`. */
function messageGate(): { interceptor: grpc.Interceptor; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const interceptor: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      sendMessage: (message, next) => void gate.then(() => next(message)),
      halfClose: (next) => void gate.then(() => next()),
    });
  return { interceptor, release };
}

/** The exit status, or 'hung' if the process is still running after `ms`. */
async function exitWithin(
  server: ServerProcess,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  try {
    return await Promise.race([server.exited, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('graceful shutdown of the real process', () => {
  let server: ServerProcess | undefined;
  const clients: grpc.Client[] = [];

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
    server?.kill();
    server = undefined;
  });

  async function start(env: Record<string, string>) {
    server = spawnServer({ FEATURES_FILE: BIG_FILE, ...env });
    const port = await servingPort(server);
    const metricsPort = server.logs.find((l) => l['msg'] === 'routeguide serving')![
      'metricsPort'
    ] as number;
    return { address: `127.0.0.1:${port}`, metricsPort };
  }

  function routeGuide(address: string, options: grpc.ClientOptions = {}) {
    const { proto } = loadRouteGuideProto();
    const client = new proto.routeguide.RouteGuide(
      address,
      grpc.credentials.createInsecure(),
      options,
    );
    clients.push(client);
    return client;
  }

  const started = async (metricsPort: number, method: string) =>
    (await scrape(metricsPort)).value('grpc_server_started_total', { grpc_method: method });

  it('SIGTERM: a unary call and a ListFeatures stream in flight both complete OK, then exit 0', async () => {
    const { address, metricsPort } = await start({ SHUTDOWN_GRACE_MS: '60000' });

    // A unary call whose request the server is still waiting for.
    const gate = messageGate();
    const unary = getFeature(routeGuide(address, { interceptors: [gate.interceptor] }), {
      latitude: 7,
      longitude: 0,
    });
    // A stream whose reader has stopped reading (flow control holds the server back).
    const stream = routeGuide(address).ListFeatures(BOX);
    const received: Feature__Output[] = [];
    stream.on('data', (feature: Feature__Output) => {
      received.push(feature);
      if (received.length === 1) stream.pause();
    });
    const streamDone = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const timeout = Date.now() + 10_000;
    while (
      ((await started(metricsPort, 'GetFeature')) < 1 || received.length < 1) &&
      Date.now() < timeout
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await started(metricsPort, 'GetFeature')).toBe(1);
    expect(received.length).toBeLessThan(BIG_COUNT);

    server!.child.kill('SIGTERM');
    // Logged just before the server stops accepting (no delay configured), so from here on
    // both calls are finishing on a draining server.
    await server!.waitForLog((l) => l['msg'] === 'shutting down');

    gate.release();
    stream.resume();
    expect(await unary).toMatchObject({ name: 'feature 7 ' + 'x'.repeat(40) });
    await streamDone;
    expect(received).toHaveLength(BIG_COUNT);

    expect(await server!.exited).toEqual({ code: 0, signal: null });
    expect(
      server!.logs.some((l) => l['msg'] === 'grace period over: cancelling remaining calls'),
    ).toBe(false);
    expect(server!.logs.at(-1)).toMatchObject({ msg: 'stopped' });
  });

  it('reports NOT_SERVING but keeps answering during SHUTDOWN_DELAY_MS, then stops listening', async () => {
    const { address } = await start({ SHUTDOWN_DELAY_MS: '1500', SHUTDOWN_GRACE_MS: '60000' });
    const health = healthClient(address);
    clients.push(health);
    const client = routeGuide(address);
    expect(await check(health, '')).toBe('SERVING');

    server!.child.kill('SIGTERM');
    await server!.waitForLog((l) => l['msg'] === 'shutting down');
    // Still answering during the delay, but telling probes to stop sending.
    expect(await check(health, '')).toBe('NOT_SERVING');
    expect(await check(health, 'routeguide.RouteGuide')).toBe('NOT_SERVING');
    expect((await getFeature(client, { latitude: 1, longitude: 0 })).name).toContain('feature 1 ');

    expect(await server!.exited).toEqual({ code: 0, signal: null });
    // Afterwards nothing listens any more.
    const fresh = routeGuide(address);
    await expect(
      new Promise((resolve, reject) =>
        fresh.GetFeature({ latitude: 1, longitude: 0 }, { deadline: Date.now() + 3000 }, (e, f) =>
          e ? reject(e) : resolve(f),
        ),
      ),
    ).rejects.toMatchObject({ code: expect.any(Number) });
  });

  it('a hung client cannot make shutdown hang: what remains is cancelled after SHUTDOWN_GRACE_MS', async () => {
    const { address } = await start({ SHUTDOWN_GRACE_MS: '1000' });
    const client = routeGuide(address);
    // A chat that never ends and a stream that is never read.
    const chat = openChat(client);
    const chatFailed = chat.done.then(
      () => undefined,
      (error: grpc.ServiceError) => error,
    );
    chat.call.write({ location: { latitude: 1, longitude: 1 }, message: 'hello' });
    const stream = client.ListFeatures(BOX);
    let got = 0;
    stream.on('data', () => {
      if (++got === 1) stream.pause();
    });
    const streamFailed = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    await eventually(() => got === 1, 10_000, 'first feature');

    server!.child.kill('SIGTERM');
    const exit = await exitWithin(server!, 20_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(
      server!.logs.some((l) => l['msg'] === 'grace period over: cancelling remaining calls'),
    ).toBe(true);
    expect((await chatFailed)?.code).not.toBe(grpc.status.OK);
    expect((await streamFailed).code).not.toBe(grpc.status.OK);
  });

  it('a second signal exits at once', async () => {
    await start({ SHUTDOWN_DELAY_MS: '600000' });
    server!.child.kill('SIGTERM');
    await server!.waitForLog((l) => l['msg'] === 'shutting down');
    server!.child.kill('SIGINT');
    const exit = await exitWithin(server!, 20_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(server!.logs.at(-1)).toMatchObject({
      msg: 'second signal: exiting now',
      signal: 'SIGINT',
    });
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli } from '../helpers/cli';
import {
  OTLP_SPAN_KIND,
  OTLP_STATUS,
  OtlpReceiver,
  type ReceivedSpan,
} from '../helpers/otlp-receiver';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

/** Preload that writes the process's require.cache keys to $REPORT_MODULES_TO at exit. */
const REPORT_MODULES = path.resolve(__dirname, '..', 'helpers', 'report-modules.js');
const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GET_FEATURE = 'grpc.routeguide.RouteGuide/GetFeature';
/** A point in the canonical database. */
const KNOWN = ['407838351', '-746143763'];
/** Latitude out of range: the server answers INVALID_ARGUMENT (the CLI does not check E7 ranges). */
const OUT_OF_RANGE = ['1000000000', '0'];

/** The built facade; the withSpan test drives it in a child process (see there). */
const TRACING_JS = path.resolve(__dirname, '..', '..', 'dist', 'observability', 'tracing.js');

/** `@opentelemetry/<package>` names among the loaded module paths. */
function otelPackages(modules: readonly string[]): string[] {
  const names = modules
    .map((m) => /[\\/]node_modules[\\/]@opentelemetry[\\/]([^\\/]+)/.exec(m)?.[1])
    .filter((name): name is string => name !== undefined);
  return [...new Set(names)].sort();
}

function readModules(file: string): string[] {
  return JSON.parse(readFileSync(file, 'utf8')) as string[];
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
}

describe('tracing with OpenTelemetry (OTLP to a receiver in the suite)', () => {
  let receiver: OtlpReceiver;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterEach(() => {
    for (const server of servers.splice(0)) server.kill();
  });
  afterAll(() => receiver.close());

  test('a CLI call and its server handling arrive as one trace (client → server), OK and INVALID_ARGUMENT; server logs carry the trace', async () => {
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      // No timer-driven export: spans can only arrive through the flush at exit / SIGTERM.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    };
    const server = spawnServer({
      ...otel,
      LOG_LEVEL: 'debug',
      METRICS: 'false',
      REPLICA_ID: 'replica-traced',
    });
    servers.push(server);
    const port = await servingPort(server);
    const target = ['--target', `127.0.0.1:${port}`];

    const ok = await cli(['get', ...KNOWN, ...target, '--json'], otel);
    expect(ok).toMatchObject({ code: 0 });
    const bad = await cli(['get', ...OUT_OF_RANGE, ...target], otel);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('INVALID_ARGUMENT');
    const health = await cli(['health', ...target], otel);
    expect(health).toMatchObject({ code: 0, stdout: expect.stringContaining('SERVING') });

    // Each CLI process exported its client span before exiting.
    const isClient = (s: ReceivedSpan) => s.kind === OTLP_SPAN_KIND.CLIENT;
    const isServer = (s: ReceivedSpan) => s.kind === OTLP_SPAN_KIND.SERVER;
    await receiver.waitFor((spans) => spans.filter(isClient).length >= 2);
    expect(receiver.spans.filter(isServer)).toHaveLength(0);

    // The server's spans go out on SIGTERM, before it exits 0.
    await stop(server);
    const spans = await receiver.waitFor((all) => all.filter(isServer).length >= 2);
    expect(receiver.rejected).toEqual([]);
    expect(spans.every((s) => s.contentType === 'application/x-protobuf')).toBe(true);
    // Health (and reflection) are not traced, on either side: two calls, four spans.
    expect(spans.map((s) => s.name).sort()).toEqual(Array(4).fill(GET_FEATURE));

    const [okClient, badClient] = spans.filter(isClient);
    for (const client of [okClient!, badClient!]) {
      const server = spans.find((s) => isServer(s) && s.traceId === client.traceId);
      expect(client.parentSpanId).toBe('');
      expect(server).toBeDefined();
      expect(server!.parentSpanId).toBe(client.spanId);
      expect(client.resource['service.name']).toBe('routeguide-cli');
      expect(server!.resource).toMatchObject({
        'service.name': 'routeguide',
        'service.instance.id': 'replica-traced',
      });
      expect(server!.scope).toBe('@opentelemetry/instrumentation-grpc');
      for (const span of [client, server!]) {
        expect(span.attributes).toMatchObject({
          'rpc.system': 'grpc',
          'rpc.service': 'routeguide.RouteGuide',
          'rpc.method': 'GetFeature',
          'server.address': '127.0.0.1',
          'server.port': port,
        });
      }
      expect(server!.attributes).toMatchObject({ 'network.peer.address': '127.0.0.1' });
      expect(server!.attributes['network.peer.port']).toEqual(expect.any(Number));
    }

    const okServer = spans.find((s) => isServer(s) && s.traceId === okClient!.traceId)!;
    expect(okClient!.attributes['rpc.grpc.status_code']).toBe(0);
    expect(okServer.attributes['rpc.grpc.status_code']).toBe(0);
    expect(okClient!.status.code).toBe(OTLP_STATUS.UNSET);
    expect(okServer.status.code).toBe(OTLP_STATUS.UNSET);
    // The client span records which replica answered.
    expect(okClient!.attributes['rpc.response.metadata.x_routeguide_replica']).toEqual([
      'replica-traced',
    ]);

    const badServer = spans.find((s) => isServer(s) && s.traceId === badClient!.traceId)!;
    expect(badClient!.attributes['rpc.grpc.status_code']).toBe(3);
    expect(badServer.attributes['rpc.grpc.status_code']).toBe(3);
    expect(badClient!.status.code).toBe(OTLP_STATUS.ERROR);
    expect(badServer.status).toEqual({
      code: OTLP_STATUS.ERROR,
      message: 'latitude 1000000000 is out of range [-900000000, 900000000]',
    });

    // The line the server logged inside the failing call carries that call's trace and span.
    const rejected = server.logs.filter((l) => l['msg'] === 'call rejected');
    expect(rejected).toEqual([
      expect.objectContaining({
        method: 'GetFeature',
        trace_id: badServer.traceId,
        span_id: badServer.spanId,
        trace_flags: '01',
      }),
    ]);
    // Lines outside any call carry none.
    const serving = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    expect(serving).toMatchObject({ tracing: true });
    expect(serving).not.toHaveProperty('trace_id');
  });

  test('OTEL_EXPORTER_OTLP_PROTOCOL=http/json: the client span arrives as OTLP/JSON', async () => {
    const server = spawnServer({ METRICS: 'false' });
    servers.push(server);
    const port = await servingPort(server);
    const before = receiver.spans.length;
    const result = await cli(['get', ...KNOWN, '--target', `127.0.0.1:${port}`], {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'json-client',
    });
    expect(result.code).toBe(0);
    const spans = (await receiver.waitFor((all) => all.length > before)).slice(before);
    expect(spans).toEqual([
      expect.objectContaining({
        name: GET_FEATURE,
        kind: OTLP_SPAN_KIND.CLIENT,
        contentType: 'application/json',
        resource: expect.objectContaining({ 'service.name': 'json-client' }),
        attributes: expect.objectContaining({ 'rpc.grpc.status_code': 0 }),
      }),
    ]);
    expect(spans[0]!.traceId).toMatch(/^[0-9a-f]{32}$/);
    await stop(server);
  });

  test('OTEL_EXPORTER_OTLP_PROTOCOL=grpc: the client span arrives over OTLP/gRPC, and the export call itself is not traced', async () => {
    await receiver.startGrpc();
    const server = spawnServer({ METRICS: 'false' });
    servers.push(server);
    const port = await servingPort(server);
    const before = receiver.spans.length;
    const result = await cli(['get', ...KNOWN, '--target', `127.0.0.1:${port}`], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.grpcEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    expect(result.code).toBe(0);
    const spans = (await receiver.waitFor((all) => all.length > before)).slice(before);
    expect(spans).toEqual([
      expect.objectContaining({
        name: GET_FEATURE,
        kind: OTLP_SPAN_KIND.CLIENT,
        contentType: 'application/grpc',
        attributes: expect.objectContaining({ 'rpc.grpc.status_code': 0 }),
      }),
    ]);
    await stop(server);
  });

  test.each([
    ['no OTEL_* variable', {}],
    ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true' }],
    ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none' }],
  ])(
    'off (%s): no OpenTelemetry module is loaded, no mixin, nothing is exported',
    async (_name, off: Record<string, string>) => {
      // Every variant but the first has an endpoint that would receive spans if anything ran.
      const env: Record<string, string> =
        Object.keys(off).length === 0
          ? {}
          : { ...off, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint };
      const serverModules = path.join(dir, `server-${Object.keys(off).join('') || 'none'}.json`);
      const cliModules = path.join(dir, `cli-${Object.keys(off).join('') || 'none'}.json`);
      const before = receiver.spans.length;

      const server = spawnServer(
        { ...env, LOG_LEVEL: 'debug', REPORT_MODULES_TO: serverModules },
        {
          nodeArgs: ['--require', REPORT_MODULES],
        },
      );
      servers.push(server);
      const port = await servingPort(server);
      const target = ['--target', `127.0.0.1:${port}`];
      expect(
        await cli(['get', ...KNOWN, ...target], { ...env, REPORT_MODULES_TO: cliModules }, [
          '--require',
          REPORT_MODULES,
        ]),
      ).toMatchObject({ code: 0 });
      expect((await cli(['get', ...OUT_OF_RANGE, ...target], env)).code).toBe(1);
      await stop(server);

      // The CLI loads nothing of OpenTelemetry; the server only @opentelemetry/api, which
      // prom-client (metrics) requires for its exemplars whether or not tracing is on.
      expect(otelPackages(readModules(cliModules))).toEqual([]);
      expect(otelPackages(readModules(serverModules))).toEqual(['api']);
      // No mixin: the line logged inside the failing call has no trace fields.
      const rejected = server.logs.find((l) => l['msg'] === 'call rejected');
      expect(rejected).toBeDefined();
      expect(rejected).not.toHaveProperty('trace_id');
      expect(server.logs.find((l) => l['msg'] === 'routeguide serving')).toMatchObject({
        tracing: false,
      });
      expect(receiver.spans.length).toBe(before);
    },
  );

  // In a child process: the OTLP HTTP exporter loads node:http with import(), which Jest's
  // module system does not support.
  test('withSpan (the seam for the Redis store) makes child spans of the active span, records failures; log fields follow the active span', async () => {
    const script = `
      const { startTracing } = require(${JSON.stringify(TRACING_JS)});
      (async () => {
        const tracing = await startTracing({ serviceName: 'facade', serviceInstanceId: 'r-1' });
        const seen = [tracing.logFields()];
        const attributes = { 'db.system.name': 'redis', 'db.operation.name': 'RPUSH', absent: undefined };
        await tracing.withSpan('outer', {}, async () => {
          seen.push(tracing.logFields());
          await tracing.withSpan('RPUSH', attributes, async () => seen.push(tracing.logFields()));
          await tracing.withSpan('GET', {}, () => Promise.reject(new Error('connection lost'))).catch(
            (error) => seen.push({ rethrown: error.message }),
          );
        });
        seen.push(tracing.logFields());
        await tracing.shutdown();
        process.stdout.write(JSON.stringify(seen));
      })();`;
    const before = receiver.spans.length;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['-e', script],
        {
          env: {
            PATH: process.env['PATH'] ?? '',
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY: '600000',
          },
          timeout: 20_000,
        },
        (error, out) => (error ? reject(error) : resolve(out)),
      ),
    );
    const spans = (await receiver.waitFor((all) => all.length >= before + 3)).slice(before);
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    const outer = byName['outer']!;
    const push = byName['RPUSH']!;
    const get = byName['GET']!;
    expect(outer.parentSpanId).toBe('');
    expect(push).toMatchObject({
      traceId: outer.traceId,
      parentSpanId: outer.spanId,
      kind: OTLP_SPAN_KIND.CLIENT,
      attributes: { 'db.system.name': 'redis', 'db.operation.name': 'RPUSH' },
      status: { code: OTLP_STATUS.UNSET },
      resource: expect.objectContaining({ 'service.name': 'facade', 'service.instance.id': 'r-1' }),
    });
    expect(push.attributes).not.toHaveProperty('absent');
    expect(get).toMatchObject({
      traceId: outer.traceId,
      parentSpanId: outer.spanId,
      status: { code: OTLP_STATUS.ERROR, message: 'connection lost' },
    });
    expect(JSON.parse(stdout)).toEqual([
      {},
      { trace_id: outer.traceId, span_id: outer.spanId, trace_flags: '01' },
      { trace_id: outer.traceId, span_id: push.spanId, trace_flags: '01' },
      { rethrown: 'connection lost' },
      {},
    ]);
  });

  test('on: the SDK, the gRPC instrumentation and one exporter are loaded (and no other exporter)', async () => {
    const modules = path.join(dir, 'cli-on.json');
    const result = await cli(
      ['health', '--target', '127.0.0.1:1', '--deadline', '200'],
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, REPORT_MODULES_TO: modules },
      ['--require', REPORT_MODULES],
    );
    expect(result.code).toBe(1);
    const packages = otelPackages(readModules(modules));
    expect(packages).toEqual(
      expect.arrayContaining([
        'api',
        'instrumentation-grpc',
        'sdk-trace-node',
        'exporter-trace-otlp-proto',
      ]),
    );
    expect(packages).not.toContain('exporter-trace-otlp-grpc');
    expect(packages).not.toContain('exporter-trace-otlp-http');
  });

  test('an invalid OTEL_* value stops the server and the CLI with exit code 2, naming the variable', async () => {
    const env = { OTEL_TRACES_EXPORTER: 'zipkin' };
    const server = spawnServer(env);
    servers.push(server);
    expect(await server.exited).toEqual({ code: 2, signal: null });
    expect(server.stderr()).toContain('OTEL_TRACES_EXPORTER="zipkin"');
    const result = await cli(['get', ...KNOWN], { OTEL_EXPORTER_OTLP_PROTOCOL: 'udp', ...env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('OTEL_TRACES_EXPORTER="zipkin"');
  });
});

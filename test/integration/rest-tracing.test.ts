import * as http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import {
  OTLP_SPAN_KIND,
  OTLP_STATUS,
  OtlpReceiver,
  type ReceivedSpan,
} from '../helpers/otlp-receiver';
import { GATEWAY_MAIN_JS, servingPort, spawnServer, type ServerProcess } from '../helpers/process';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('REST calls are traced (OTLP to a receiver in the suite)', () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  let gateway: ServerProcess | undefined;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterAll(async () => {
    server?.kill();
    gateway?.kill();
    await receiver.close();
  });
  const otel = () => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    METRICS: 'false',
  });
  /** A traceparent of its own trace, `n` telling the calls apart. */
  const traceOf = (n: number) => `${TRACE_ID.slice(0, -2)}${String(n).padStart(2, '0')}`;
  const parentOf = (n: number) => `00-${traceOf(n)}-${PARENT_ID}-01`;

  it('a server span per call, child of the request traceparent, with its status', async () => {
    server = spawnServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      METRICS: 'false',
    });
    await servingPort(server);
    const line = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    const rest = `http://127.0.0.1:${String(line['restPort'])}`;
    const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;
    expect((await fetch(`${rest}/v1/features/1/2`, { headers: { traceparent } })).status).toBe(200);
    expect((await fetch(`${rest}/v1/features/950000000/2`)).status).toBe(400);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const spans = await receiver.waitFor(
      (all) => all.filter((s) => s.kind === OTLP_SPAN_KIND.SERVER).length >= 2,
    );
    const servers = spans.filter((s) => s.kind === OTLP_SPAN_KIND.SERVER);
    expect(servers.map((s) => s.name)).toEqual(
      Array(2).fill('grpc.routeguide.RouteGuide/GetFeature'),
    );
    const child = servers.find((s) => s.traceId === TRACE_ID)!;
    expect(child.parentSpanId).toBe(PARENT_ID);
    expect(child.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.method': 'GetFeature',
      'rpc.grpc.status_code': 0,
      'http.request.method': 'GET',
    });
    const failed = servers.find((s) => s.traceId !== TRACE_ID)!;
    expect(failed.parentSpanId).toBe('');
    expect(failed.attributes['rpc.grpc.status_code']).toBe(3);
    expect(failed.status.code).toBe(OTLP_STATUS.ERROR);
  }, 30_000);

  it('calls refused before their handler (authentication, bad input, admission) get a server span with their status', async () => {
    server = spawnServer({ ...otel(), AUTH_TOKEN: 'sesame', MAX_STREAMING_CALLS: '1' });
    await servingPort(server);
    const line = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    const rest = `http://127.0.0.1:${String(line['restPort'])}`;
    const auth = { authorization: 'Bearer sesame' };
    const unauthenticated = await fetch(`${rest}/v1/features/1/2`, {
      headers: { traceparent: parentOf(1) },
    });
    expect(unauthenticated.status).toBe(401);
    const badTimeout = await fetch(`${rest}/v1/features/1/2`, {
      headers: { ...auth, traceparent: parentOf(2), 'grpc-timeout': 'soon' },
    });
    expect(badTimeout.status).toBe(400);
    // One RecordRoute held open takes the only streaming slot: the next is shed.
    const held = http.request(`${rest}/v1/routes`, { method: 'POST', headers: auth });
    const heldStatus = new Promise<number>((resolve, reject) => {
      held.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      held.on('error', reject);
    });
    held.write('{"latitude":407838351,"longitude":-746143763}\n');
    await delay(300);
    const shed = await fetch(`${rest}/v1/routes`, {
      method: 'POST',
      headers: { ...auth, traceparent: parentOf(3) },
      body: '{"latitude":1,"longitude":2}\n',
    });
    expect(shed.status).toBe(503);
    held.end();
    expect(await heldStatus).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });

    const traces = [1, 2, 3].map(traceOf);
    const spans = await receiver.waitFor((all) =>
      traces.every((id) => all.some((s) => s.traceId === id)),
    );
    const of = (n: number) => spans.find((s) => s.traceId === traceOf(n))!;
    const expected: [number, string, number][] = [
      [1, 'GetFeature', 16],
      [2, 'GetFeature', 3],
      [3, 'RecordRoute', 14],
    ];
    for (const [n, method, code] of expected) {
      const span = of(n);
      expect(span).toMatchObject({
        name: `grpc.routeguide.RouteGuide/${method}`,
        kind: OTLP_SPAN_KIND.SERVER,
        parentSpanId: PARENT_ID,
        status: { code: OTLP_STATUS.ERROR },
      });
      expect(span.attributes).toMatchObject({
        'rpc.method': method,
        'rpc.grpc.status_code': code,
        'http.request.method': n === 3 ? 'POST' : 'GET',
      });
    }
    // The admitted RecordRoute has its own span, OK.
    const recorded = spans.filter(
      (s) => s.name.endsWith('/RecordRoute') && s.attributes['rpc.grpc.status_code'] === 0,
    );
    expect(recorded).toHaveLength(1);
  }, 30_000);

  it('the standalone gateway: its server span is the parent of the forwarded call, and the target continues the trace', async () => {
    server = spawnServer({ ...otel(), REST: 'false' });
    const port = await servingPort(server);
    gateway = spawnServer(
      { ...otel(), GATEWAY_TARGET: `127.0.0.1:${port}`, REPLICA_ID: 'gw-1' },
      { script: GATEWAY_MAIN_JS },
    );
    const serving = await gateway.waitForLog((l) => l['msg'] === 'routeguide gateway serving');
    expect(serving).toMatchObject({ tracing: true, targetTls: 'off' });
    const rest = `http://127.0.0.1:${String(serving['restPort'])}`;
    const ok = await fetch(`${rest}/v1/features/409146138/-746188906`, {
      headers: { traceparent: parentOf(10) },
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${rest}/v1/features/950000000/2`, {
      headers: { traceparent: parentOf(11) },
    });
    expect(bad.status).toBe(400);
    gateway.child.kill('SIGTERM');
    server.child.kill('SIGTERM');
    expect(await gateway.exited).toEqual({ code: 0, signal: null });
    expect(await server.exited).toEqual({ code: 0, signal: null });

    const inTrace = (all: readonly ReceivedSpan[], n: number) =>
      all.filter((s) => s.traceId === traceOf(n));
    const spans = await receiver.waitFor(
      (all) => inTrace(all, 10).length >= 3 && inTrace(all, 11).length >= 3,
    );
    for (const [n, code] of [
      [10, 0],
      [11, 3],
    ] as const) {
      const trace = inTrace(spans, n);
      const gatewayServer = trace.find(
        (s) =>
          s.kind === OTLP_SPAN_KIND.SERVER && s.resource['service.name'] === 'routeguide-gateway',
      )!;
      expect(gatewayServer).toMatchObject({
        name: 'grpc.routeguide.RouteGuide/GetFeature',
        parentSpanId: PARENT_ID,
      });
      expect(gatewayServer.resource['service.instance.id']).toBe('gw-1');
      expect(gatewayServer.attributes).toMatchObject({
        'rpc.system': 'grpc',
        'rpc.method': 'GetFeature',
        'rpc.grpc.status_code': code,
        'http.request.method': 'GET',
      });
      const forwarded = trace.find((s) => s.kind === OTLP_SPAN_KIND.CLIENT)!;
      expect(forwarded.resource['service.name']).toBe('routeguide-gateway');
      expect(forwarded.parentSpanId).toBe(gatewayServer.spanId);
      expect(forwarded.attributes['rpc.grpc.status_code']).toBe(code);
      const target = trace.find(
        (s) => s.kind === OTLP_SPAN_KIND.SERVER && s.resource['service.name'] === 'routeguide',
      )!;
      expect(target.parentSpanId).toBe(forwarded.spanId);
      expect(target.attributes['rpc.grpc.status_code']).toBe(code);
    }
  }, 30_000);
});

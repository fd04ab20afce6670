import { OTLP_SPAN_KIND, OTLP_STATUS, OtlpReceiver } from '../helpers/otlp-receiver';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('REST calls are traced (OTLP to a receiver in the suite)', () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterAll(async () => {
    server?.kill();
    await receiver.close();
  });

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
});

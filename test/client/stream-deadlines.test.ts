import * as grpc from '@grpc/grpc-js';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { createRouteGuideClient } from '../../src/client/client';

/**
 * The client library's defaults must not kill long-lived streams: GetFeature keeps its 10 s
 * deadline, while ListFeatures, RecordRoute and RouteChat carry none unless asked for (a slow
 * whole-database listing or a chat held open would otherwise end DEADLINE_EXCEEDED at 10 s).
 * A stub server records the deadline each call arrives with.
 */
describe('client deadlines', () => {
  let server: grpc.Server;
  let address: string;
  const seen: Record<string, number> = {};

  beforeAll(async () => {
    const { proto } = loadRouteGuideProto();
    server = new grpc.Server();
    const remaining = (call: { getDeadline(): grpc.Deadline }): number => {
      const deadline = call.getDeadline();
      return deadline === Infinity ? Infinity : Number(deadline) - Date.now();
    };
    server.addService(proto.routeguide.RouteGuide.service, {
      GetFeature: (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        seen['GetFeature'] = remaining(call);
        callback(null, { name: '', location: { latitude: 0, longitude: 0 } });
      },
      ListFeatures: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        seen['ListFeatures'] = remaining(call);
        call.end();
      },
      RecordRoute: (
        call: grpc.ServerReadableStream<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        seen['RecordRoute'] = remaining(call);
        call.on('data', () => undefined);
        call.on('end', () => callback(null, {}));
      },
      RouteChat: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        seen['RouteChat'] = remaining(call);
        call.on('data', () => undefined);
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => server.forceShutdown());

  const callAll = async (client: ReturnType<typeof createRouteGuideClient>): Promise<void> => {
    const point = { latitude: 1, longitude: 1 };
    await client.getFeature(point);
    await client.listFeatures({ lo: point, hi: point });
    await client.recordRoute([point]);
    await client.routeChat([{ location: point, message: 'x' }]);
  };

  it('by default: GetFeature has its 10 s deadline, streams have none', async () => {
    const client = createRouteGuideClient({ target: address });
    await callAll(client);
    client.close();
    expect(seen['GetFeature']).toBeGreaterThan(5_000);
    expect(seen['GetFeature']).toBeLessThanOrEqual(10_000);
    expect(seen['ListFeatures']).toBe(Infinity);
    expect(seen['RecordRoute']).toBe(Infinity);
    expect(seen['RouteChat']).toBe(Infinity);
  });

  it('streamDeadlineMs bounds streams when asked for', async () => {
    const client = createRouteGuideClient({ target: address, streamDeadlineMs: 60_000 });
    await callAll(client);
    client.close();
    for (const method of ['ListFeatures', 'RecordRoute', 'RouteChat']) {
      expect(seen[method]).toBeGreaterThan(30_000);
      expect(seen[method]).toBeLessThanOrEqual(60_000);
    }
  });
});

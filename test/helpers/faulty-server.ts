import * as grpc from '@grpc/grpc-js';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { REPLICA_HEADER } from '../../src/protocol/replica';

/** A test-only RouteGuide replica whose GetFeature fails most calls with UNAVAILABLE. */
export interface FaultyServer {
  readonly address: string;
  /** GetFeature calls (attempts) it has received. */
  readonly calls: () => number;
  close(): Promise<void>;
}

/** Starts it on 127.0.0.1:0; `failEvery` of every 10 calls fail (default 9). */
export async function startFaultyServer(
  options: { replica?: string; failEvery?: number } = {},
): Promise<FaultyServer> {
  const failEvery = options.failEvery ?? 9;
  let calls = 0;
  const server = new grpc.Server();
  const { proto } = loadRouteGuideProto();
  server.addService(proto.routeguide.RouteGuide.service, {
    GetFeature: (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      calls += 1;
      const metadata = new grpc.Metadata();
      metadata.set(REPLICA_HEADER, options.replica ?? 'faulty');
      if (calls % 10 < failEvery) {
        callback({ code: grpc.status.UNAVAILABLE, details: 'faulty replica', metadata });
      } else {
        call.sendMetadata(metadata);
        callback(null, { name: '', location: call.request });
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls: () => calls,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

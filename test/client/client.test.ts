import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { TargetError } from '../../src/client/targets';
import type { RouteGuideHandlers } from '../../src/generated/routeguide/RouteGuide';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { canonicalFeatures, featuresInBox } from '../helpers/canonical';
import { startTestServer, type TestServer } from '../helpers/server';

/** A real server whose GetFeature answers with the caller's authorization header, or never. */
async function startProbeServer(
  unavailableFirst = 0,
): Promise<{ address: string; attempts: () => number; close(): Promise<void> }> {
  const server = new grpc.Server();
  let attempts = 0;
  const { proto } = loadRouteGuideProto();
  const handlers: Partial<RouteGuideHandlers> = {
    GetFeature(call, callback) {
      if (call.request.latitude === 1) return; // never answers: the deadline must end it
      if (call.request.latitude === 2 && ++attempts <= unavailableFirst) {
        return callback({ code: grpc.status.UNAVAILABLE, details: 'try another replica' });
      }
      const authorization = call.metadata.get('authorization')[0];
      callback(null, { name: String(authorization ?? ''), location: call.request });
    },
  };
  server.addService(proto.routeguide.RouteGuide.service, handlers as RouteGuideHandlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    attempts: () => attempts,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

describe('RouteGuideClient', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  function track<T extends { close(): unknown }>(thing: T): T {
    cleanups.push(async () => {
      await thing.close();
    });
    return thing;
  }

  it('re-sends GetFeature when it is still UNAVAILABLE after grpc-js retries, within bounds', async () => {
    // Six UNAVAILABLE answers exhaust grpc-js's five attempts; the library's reattempts go on.
    const probe = track(await startProbeServer(6));
    const client = track(createRouteGuideClient({ target: probe.address }));
    const { value } = await client.getFeature({ latitude: 2, longitude: 0 });
    expect(value.location).toEqual({ latitude: 2, longitude: 0 });
    expect(probe.attempts()).toBeGreaterThanOrEqual(7);

    const strict = track(await startProbeServer(6));
    const noReattempts = track(
      createRouteGuideClient({ target: strict.address, retry: { reattempts: 0 } }),
    );
    await expect(noReattempts.getFeature({ latitude: 2, longitude: 0 })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect(strict.attempts()).toBe(5);
  });

  it('makes every call and reports the replica that answered', async () => {
    const server: TestServer = track(await startTestServer({ env: { REPLICA_ID: 'one' } }));
    const client: RouteGuideClient = track(createRouteGuideClient({ target: server.address }));
    const point = { latitude: 407838351, longitude: -746143763 };

    await expect(client.getFeature(point)).resolves.toEqual({
      value: { name: 'Patriots Path, Mendham, NJ 07945, USA', location: point },
      replica: 'one',
    });
    const lo = { latitude: 405000000, longitude: -745000000 };
    const hi = { latitude: 410000000, longitude: -740000000 };
    const listed = await client.listFeatures({ lo, hi });
    expect(listed.value).toEqual(featuresInBox(canonicalFeatures(), lo, hi));
    expect(listed.value.length).toBeGreaterThan(0);
    expect(listed.replica).toBe('one');
    const recorded = await client.recordRoute([point, point]);
    expect(recorded.value).toMatchObject({ point_count: 2, feature_count: 2, distance: 0 });
    const chat = await client.routeChat([
      { location: point, message: 'a' },
      { location: point, message: 'b' },
    ]);
    expect(chat.value.map((n) => n.message)).toEqual(['a']);
    expect(chat.replica).toBe('one');
  });

  it('reports the replica of a failed call too', async () => {
    const server = track(await startTestServer({ env: { REPLICA_ID: 'two' } }));
    const client = track(createRouteGuideClient({ target: server.address }));
    const error = (await client
      .getFeature({ latitude: 900000001, longitude: 0 })
      .catch((e: unknown) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.metadata.get('x-routeguide-replica')).toEqual(['two']);
  });

  it('sends the bearer token and applies its default deadline', async () => {
    const probe = track(await startProbeServer());
    const client = track(
      createRouteGuideClient({ target: probe.address, token: 's3cret', deadlineMs: 300 }),
    );
    const { value } = await client.getFeature({ latitude: 2, longitude: 2 });
    expect(value.name).toBe('Bearer s3cret');
    await expect(client.getFeature({ latitude: 1, longitude: 1 })).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    await expect(
      client.getFeature({ latitude: 1, longitude: 1 }, { deadlineMs: 50 }),
    ).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  });

  it('checks health over the same channel', async () => {
    const server = track(await startProbeServer());
    // The probe has no health service: the call reaches the server and is UNIMPLEMENTED.
    const client = track(createRouteGuideClient({ target: server.address }));
    await expect(client.checkHealth()).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });

    const healthy = new grpc.Server();
    new HealthImplementation({ '': 'SERVING', 'routeguide.RouteGuide': 'NOT_SERVING' }).addToServer(
      healthy,
    );
    const port = await new Promise<number>((resolve, reject) =>
      healthy.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    cleanups.push(() => healthy.forceShutdown());
    const healthClient = track(createRouteGuideClient({ target: `127.0.0.1:${port}` }));
    await expect(healthClient.checkHealth()).resolves.toMatchObject({ value: 'SERVING' });
    await expect(healthClient.checkHealth('routeguide.RouteGuide')).resolves.toMatchObject({
      value: 'NOT_SERVING',
    });
  });

  it('refuses an xds: target without a bootstrap, at once and with a clear message', () => {
    const saved = [process.env['GRPC_XDS_BOOTSTRAP'], process.env['GRPC_XDS_BOOTSTRAP_CONFIG']];
    delete process.env['GRPC_XDS_BOOTSTRAP'];
    delete process.env['GRPC_XDS_BOOTSTRAP_CONFIG'];
    try {
      expect(() => createRouteGuideClient({ target: 'xds:///routeguide' })).toThrow(TargetError);
      expect(() => createRouteGuideClient({ target: 'xds:///routeguide' })).toThrow(
        /GRPC_XDS_BOOTSTRAP/,
      );
    } finally {
      if (saved[0] !== undefined) process.env['GRPC_XDS_BOOTSTRAP'] = saved[0];
      if (saved[1] !== undefined) process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = saved[1];
    }
  });
});

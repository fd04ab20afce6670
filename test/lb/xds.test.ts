import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { spread } from '../../src/client/spread';
import { closeAll, startReplicas, warmUp } from '../helpers/replicas';
import type { TestServer } from '../helpers/server';
import { XdsControlPlane } from '../helpers/xds-control-plane';

jest.setTimeout(90_000);

describe('round robin over xDS', () => {
  let plane: XdsControlPlane;
  let servers: TestServer[] = [];
  let client: RouteGuideClient | undefined;

  beforeAll(async () => {
    plane = new XdsControlPlane();
    await plane.start();
    // grpc-js-xds reads (and caches) its bootstrap when the first xds: channel resolves.
    process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = plane.bootstrap();
  });

  afterAll(async () => {
    delete process.env['GRPC_XDS_BOOTSTRAP_CONFIG'];
    await plane.stop();
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    await closeAll(servers);
    servers = [];
  });

  it('spreads calls over the endpoints the control plane sends, and follows their removal', async () => {
    servers = await startReplicas(3, { prefix: 'xds-' });
    plane.setService(
      'routeguide',
      servers.map((s) => s.address),
    );
    client = createRouteGuideClient({ target: 'xds:///routeguide' });
    await warmUp(client, ['xds-1', 'xds-2', 'xds-3']);

    const before = await spread(client, { calls: 300, concurrency: 10 });
    expect(before.failed).toBe(0);
    expect(Object.keys(before.replicas)).toEqual(['xds-1', 'xds-2', 'xds-3']);
    for (const calls of Object.values(before.replicas)) {
      expect(calls).toBeGreaterThanOrEqual(95);
      expect(calls).toBeLessThanOrEqual(105);
    }

    // Remove xds-3 from the ClusterLoadAssignment (its server keeps running).
    plane.setEndpoints(
      'routeguide-endpoints',
      servers.slice(0, 2).map((s) => s.address),
    );
    // The update reaches the client asynchronously: wait until 50 calls in a row avoid xds-3.
    const deadline = Date.now() + 30_000;
    for (let streak = 0; streak < 50;) {
      if (Date.now() > deadline) throw new Error('xds-3 still gets calls 30 s after its removal');
      const { replica } = await client.getFeature({ latitude: 1, longitude: 1 });
      streak = replica === 'xds-3' ? 0 : streak + 1;
    }

    const after = await spread(client, { calls: 300, concurrency: 10 });
    expect(after.failed).toBe(0);
    expect(Object.keys(after.replicas)).toEqual(['xds-1', 'xds-2']);
    for (const calls of Object.values(after.replicas)) {
      expect(calls).toBeGreaterThanOrEqual(145);
      expect(calls).toBeLessThanOrEqual(155);
    }
    expect(plane.nacks).toEqual([]);
  });
});

import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { spread } from '../../src/client/spread';
import { describeSpread, loadFor, share, startProcessReplicas } from '../helpers/load';
import { killAll, type ServerProcess } from '../helpers/process';
import { XdsControlPlane } from '../helpers/xds-control-plane';

jest.setTimeout(90_000);

/**
 * The in-suite control plane sends client-side weighted round robin as the cluster's policy:
 * through `xds:///`, a CPU-starved replica (test-only burner preload) gets under a fifth of the
 * calls, from the replicas' ORCA reports, as with `--lb weighted_round_robin` on a plain target.
 */
describe('weighted round robin sent by the xDS control plane', () => {
  let plane: XdsControlPlane;
  let processes: ServerProcess[] = [];
  let client: RouteGuideClient | undefined;

  beforeAll(async () => {
    // grpc-js-xds reads both when it loads, i.e. on this file's first xds: channel.
    process.env['GRPC_EXPERIMENTAL_XDS_WRR_LB'] = 'true';
    plane = new XdsControlPlane();
    await plane.start();
    process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = plane.bootstrap();
    let target: string;
    ({ processes, target } = await startProcessReplicas(3, { prefix: 'xwrr-', slow: 1 }));
    plane.setService('routeguide-wrr', target.slice('ipv4:'.length).split(','), {
      lbPolicy: 'weighted_round_robin',
    });
  });

  afterAll(async () => {
    client?.close();
    delete process.env['GRPC_XDS_BOOTSTRAP_CONFIG'];
    delete process.env['GRPC_EXPERIMENTAL_XDS_WRR_LB'];
    await plane.stop();
    await killAll(processes);
  });

  it('sends the slow replica under a fifth of the calls once the weights are in', async () => {
    client = createRouteGuideClient({ target: 'xds:///routeguide-wrr' });
    await loadFor(client, 5000);
    const result = await spread(client, { calls: 900, concurrency: 10 });
    console.log(describeSpread('xds weighted_round_robin', result, 'xwrr-1'));
    expect(result.failed).toBe(0);
    expect(share(result, 'xwrr-1')).toBeLessThan(0.2);
    expect(share(result, 'xwrr-2')).toBeGreaterThan(0.25);
    expect(share(result, 'xwrr-3')).toBeGreaterThan(0.25);
    expect(plane.nacks).toEqual([]);
  });
});

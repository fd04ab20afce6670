import { createRouteGuideClient, type RouteGuideClient } from '../../src/client/client';
import { spread } from '../../src/client/spread';
import { killAll, servingPort, spawnServer, type ServerProcess } from '../helpers/process';
import { warmUp } from '../helpers/replicas';

jest.setTimeout(120_000);

describe('failover', () => {
  let processes: ServerProcess[] = [];
  let client: RouteGuideClient | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await killAll(processes);
    processes = [];
  });

  it('loses no call when one of three server processes is SIGKILLed mid-run', async () => {
    processes = ['fo-1', 'fo-2', 'fo-3'].map((id) => spawnServer({ REPLICA_ID: id }));
    const ports = await Promise.all(processes.map((p) => servingPort(p, 30_000)));
    client = createRouteGuideClient({
      target: `ipv4:${ports.map((port) => `127.0.0.1:${port}`).join(',')}`,
      deadlineMs: 30_000,
    });
    await warmUp(client, ['fo-1', 'fo-2', 'fo-3']);

    const victim = processes[1]!;
    let killedAt: number | undefined;
    const result = await spread(client, {
      calls: 2000,
      concurrency: 20,
      onProgress: (done) => {
        if (done === 600 && killedAt === undefined) {
          killedAt = done;
          victim.child.kill('SIGKILL');
        }
      },
    });
    const { signal } = await victim.exited;

    expect(signal).toBe('SIGKILL');
    expect(result.errors).toEqual({});
    expect(result.failed).toBe(0);
    expect(result.succeeded).toBe(2000);
    // The victim answered some calls before it died, and the survivors carried the rest.
    const answered = result.replicas;
    expect(answered['fo-2']).toBeGreaterThan(0);
    expect(answered['fo-2']).toBeLessThan(800);
    expect((answered['fo-1'] ?? 0) + (answered['fo-3'] ?? 0)).toBeGreaterThan(1200);
  });
});

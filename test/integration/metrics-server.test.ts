import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { MetricsServer } from '../../src/observability/metrics-server';
import { capturingLogger } from '../helpers/server';

describe('the metrics HTTP server', () => {
  it('logs an error of the listening server instead of leaving it unhandled', async () => {
    const { logger, lines } = capturingLogger();
    const metrics = new MetricsServer({
      registry: new Registry(),
      logger,
      host: '127.0.0.1',
      port: 0,
    });
    await metrics.listen();
    afterCleanup = () => metrics.close();
    const server = (metrics as unknown as { server: Server }).server;
    const error = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    // Without a listener, EventEmitter throws an 'error' nobody handles (the process dies).
    expect(() => server.emit('error', error)).not.toThrow();
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'metrics server error',
        err: expect.objectContaining({ message: 'accept EMFILE', code: 'EMFILE' }),
      }),
    ]);
    // And it still serves.
    const response = await fetch(`http://127.0.0.1:${metrics.port}/metrics`);
    expect(response.status).toBe(200);
  });

  let afterCleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await afterCleanup?.();
    afterCleanup = undefined;
  });
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { experimental } from '@grpc/grpc-js';
import {
  DEFAULT_WEIGHTED_ROUND_ROBIN,
  defaultServiceConfig,
  loadBalancingConfig,
} from '../../src/client/service-config';

interface Parsed {
  getLoadBalancerName(): string;
  toJsonObject(): Record<string, Record<string, unknown>>;
}

describe('load balancing config', () => {
  it('is round robin by default', () => {
    expect(loadBalancingConfig()).toEqual([{ round_robin: {} }]);
    expect(defaultServiceConfig().loadBalancingConfig).toEqual([{ round_robin: {} }]);
  });

  it('weighted round robin: out-of-band reports and the documented settings, as grpc-js reads them', () => {
    const [entry] = loadBalancingConfig({ policy: 'weighted_round_robin' });
    const parsed = experimental.parseLoadBalancingConfig(entry!) as unknown as Parsed;
    expect(parsed.getLoadBalancerName()).toBe('weighted_round_robin');
    expect(parsed.toJsonObject()).toEqual({
      enable_oob_load_report: true,
      oob_load_reporting_period: '1s',
      blackout_period: '1s',
      weight_expiration_period: '30s',
      weight_update_period: '0.500s',
      error_utilization_penalty: 1,
    });
    expect(DEFAULT_WEIGHTED_ROUND_ROBIN.blackoutPeriodMs).toBeLessThanOrEqual(2000);
    expect(DEFAULT_WEIGHTED_ROUND_ROBIN.weightUpdatePeriodMs).toBeLessThanOrEqual(1000);
  });

  it('outlier detection wraps the policy, with the bare policy as the fallback entry', () => {
    const config = loadBalancingConfig({ policy: 'weighted_round_robin', outlierDetection: true });
    expect(config).toHaveLength(2);
    const parsed = experimental.parseLoadBalancingConfig(config[0]!) as unknown as Parsed;
    expect(parsed.getLoadBalancerName()).toBe('outlier_detection');
    const json = parsed.toJsonObject()['outlier_detection']!;
    expect(json).toMatchObject({
      interval: { seconds: 1, nanos: 0 },
      base_ejection_time: { seconds: 30, nanos: 0 },
      max_ejection_percent: 50,
      failure_percentage_ejection: { threshold: 50, minimum_hosts: 2, request_volume: 20 },
    });
    expect(json['child_policy']).toEqual([
      expect.objectContaining({ enable_oob_load_report: true }),
    ]);
    expect(config[1]).toEqual(loadBalancingConfig({ policy: 'weighted_round_robin' })[0]);
    expect(
      loadBalancingConfig({ outlierDetection: { intervalMs: 2500, thresholdPercent: 70 } })[0],
    ).toMatchObject({
      outlier_detection: {
        interval: { seconds: 2, nanos: 500_000_000 },
        failure_percentage_ejection: { threshold: 70 },
        child_policy: [{ round_robin: {} }],
      },
    });
  });

  it('falls back to the bare policy when GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION=false', () => {
    // grpc-js reads the variable once, at load: a fresh process.
    const script = `
      const { experimental } = require('@grpc/grpc-js');
      const { loadBalancingConfig } = require(${JSON.stringify(path.resolve('dist/client/service-config.js'))});
      const chosen = experimental.selectLbConfigFromList(loadBalancingConfig({ outlierDetection: true }));
      process.stdout.write(chosen.getLoadBalancerName());
    `;
    const run = (value: string) =>
      spawnSync(process.execPath, ['-e', script], {
        env: { PATH: process.env['PATH'] ?? '', GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION: value },
        encoding: 'utf8',
      });
    expect(run('false').stdout).toBe('round_robin');
    expect(run('true').stdout).toBe('outlier_detection');
  });
});

describe('retry throttling', () => {
  it('the default service config throttles retries (gRFC A6), and grpc-js accepts it', () => {
    const config = defaultServiceConfig();
    expect(config['retryThrottling']).toEqual({ maxTokens: 100, tokenRatio: 0.1 });
    // grpc-js validates the whole service config when a channel is made with it.
    const { validateServiceConfig } = jest.requireActual<{
      validateServiceConfig: (json: unknown) => { retryThrottling?: unknown };
    }>('@grpc/grpc-js/build/src/service-config');
    expect(validateServiceConfig(config).retryThrottling).toEqual({
      maxTokens: 100,
      tokenRatio: 0.1,
    });
  });
});

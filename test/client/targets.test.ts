import { defaultServiceConfig } from '../../src/client/service-config';
import { isXdsTarget, targetScheme, TargetError } from '../../src/client/targets';

describe('targetScheme', () => {
  it.each([
    ['localhost:50051', 'dns'],
    ['routeguide', 'dns'],
    ['dns:///routeguide:50051', 'dns'],
    ['dns://127.0.0.1:53/routeguide:50051', 'dns'],
    ['ipv4:127.0.0.1:1,127.0.0.1:2', 'ipv4'],
    ['ipv6:[::1]:50051', 'ipv6'],
    ['unix:///tmp/routeguide.sock', 'unix'],
    ['xds:///routeguide', 'xds'],
    ['XDS:///routeguide', 'xds'],
  ])('%s → %s', (target, scheme) => {
    expect(targetScheme(target)).toBe(scheme);
  });

  it('rejects empty targets and unknown schemes with a readable message', () => {
    expect(() => targetScheme(' ')).toThrow(new TargetError('target is empty'));
    expect(() => targetScheme('consul://x/y')).toThrow(/unsupported target scheme "consul:"/);
  });

  it('knows xds targets', () => {
    expect(isXdsTarget('xds:///routeguide')).toBe(true);
    expect(isXdsTarget('dns:///routeguide:50051')).toBe(false);
  });
});

describe('defaultServiceConfig', () => {
  it('is round robin with throttled retries of the idempotent calls on UNAVAILABLE', () => {
    expect(defaultServiceConfig()).toEqual({
      loadBalancingConfig: [{ round_robin: {} }],
      retryThrottling: { maxTokens: 100, tokenRatio: 0.1 },
      methodConfig: [
        {
          name: [
            { service: 'routeguide.RouteGuide', method: 'GetFeature' },
            { service: 'routeguide.RouteGuide', method: 'ListFeatures' },
          ],
          retryPolicy: {
            maxAttempts: 5,
            initialBackoff: '0.050s',
            maxBackoff: '1.000s',
            backoffMultiplier: 2,
            retryableStatusCodes: ['UNAVAILABLE'],
          },
        },
      ],
    });
    expect(defaultServiceConfig({ maxAttempts: 3 }).methodConfig).toMatchObject([
      { retryPolicy: { maxAttempts: 3 } },
    ]);
  });
});

import { splitHostPort } from '../../src/observability/tracing-sdk';
import { TRACING_OFF, TracingConfigError, tracingSettings } from '../../src/observability/tracing';

describe('tracingSettings (standard OTEL_* variables)', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

  test.each([
    ['nothing set', {}],
    ['only a service name', { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }],
    ['an empty endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }],
    ['exporter none', { ...endpoint, OTEL_TRACES_EXPORTER: 'none' }],
    ['none among others', { OTEL_TRACES_EXPORTER: 'otlp,none' }],
    ['SDK disabled', { ...endpoint, OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }],
  ])('off: %s', (_name, env) => {
    expect(tracingSettings(env)).toBeUndefined();
  });

  test.each([
    ['an endpoint', endpoint, { exporters: ['otlp'], protocol: 'http/protobuf' }],
    [
      'a traces endpoint',
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' },
      { exporters: ['otlp'], protocol: 'http/protobuf' },
    ],
    [
      'an exporter list',
      { OTEL_TRACES_EXPORTER: ' otlp , Console,otlp' },
      { exporters: ['otlp', 'console'], protocol: 'http/protobuf' },
    ],
    [
      'the general protocol',
      { ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      { exporters: ['otlp'], protocol: 'grpc' },
    ],
    [
      'the traces protocol over the general one',
      {
        ...endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      },
      { exporters: ['otlp'], protocol: 'http/json' },
    ],
    [
      'SDK explicitly enabled',
      { ...endpoint, OTEL_SDK_DISABLED: 'false' },
      { exporters: ['otlp'], protocol: 'http/protobuf' },
    ],
  ])('on: %s', (_name, env, expected) => {
    expect(tracingSettings(env)).toEqual(expected);
  });

  test.each([
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, 'OTEL_TRACES_EXPORTER="jaeger"'],
    [{ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'OTEL_EXPORTER_OTLP_PROTOCOL="http"'],
    [
      { ...endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' },
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="thrift"',
    ],
    [{ ...endpoint, OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED="yes"'],
  ])('invalid: %j', (env, named) => {
    expect(() => tracingSettings(env)).toThrow(TracingConfigError);
    expect(() => tracingSettings(env)).toThrow(named);
  });
});

test.each([
  ['127.0.0.1:50051', { host: '127.0.0.1', port: 50051 }],
  ['routeguide:50051', { host: 'routeguide', port: 50051 }],
  ['[::1]:50051', { host: '::1', port: 50051 }],
  ['[::1]', { host: '::1' }],
  ['::ffff:127.0.0.1:43210', { host: '::ffff:127.0.0.1', port: 43210 }],
  ['routeguide', { host: 'routeguide' }],
  ['', {}],
])('splitHostPort(%j)', (text, expected) => {
  expect(splitHostPort(text)).toEqual(expected);
});

describe('the tracing facade (on: test/integration/tracing.test.ts)', () => {
  test('off: withSpan just runs the function, handlers are returned as they are', async () => {
    const handlers = { GetFeature: () => undefined };
    expect(TRACING_OFF.traceHandlers(handlers)).toBe(handlers);
    await expect(TRACING_OFF.withSpan('x', {}, async () => 42)).resolves.toBe(42);
    await expect(
      TRACING_OFF.withSpan('x', {}, () => Promise.reject(new Error('e'))),
    ).rejects.toThrow('e');
    expect(TRACING_OFF.logFields).toBeUndefined();
    expect(Object.isFrozen(TRACING_OFF)).toBe(true);
  });
});

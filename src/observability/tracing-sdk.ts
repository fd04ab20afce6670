/**
 * The OpenTelemetry SDK behind the {@link Tracing} facade. Loaded (by `startTracing` in
 * ./tracing) only when an exporter is configured; nothing else imports it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  context,
  diag,
  DiagLogLevel,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type DiagLogFunction,
  type Tracer,
} from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
  type Resource,
} from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import {
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type {
  ServerCallAddresses,
  ServerSpan,
  SpanAttributes,
  CallSpanAttributes,
  Tracing,
  TracingOptions,
  TracingSettings,
} from './tracing-types';
// Only a constant (imports nothing, so not @grpc/grpc-js before the instrumentation): client
// spans record which replica answered.
import { REPLICA_HEADER } from '../protocol/replica';

/** Longest a shutdown waits for the last export (an unreachable collector must not hold exit up). */
export const SHUTDOWN_FLUSH_TIMEOUT_MS = 5000;

/**
 * Methods never traced, on the server and in clients: grpc.health.v1.Health (Check, Watch,
 * List) and reflection (ServerReflectionInfo). The instrumentation matches the method name
 * only; RouteGuide has no method of these names.
 */
export const UNTRACED_GRPC_METHODS: readonly string[] = [
  'Check',
  'Watch',
  'List',
  'ServerReflectionInfo',
];

/**
 * `host:port`, `[v6]:port`, `host` → host and port. Also splits grpc-js's `getPeer()`, which
 * writes an IPv6 peer without brackets (`::1:5555`): the port is what follows the last colon.
 */
export function splitHostPort(text: string): { host?: string; port?: number } {
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) {
    return {
      host: bracketed[1]!,
      ...(bracketed[2] !== undefined ? { port: Number(bracketed[2]) } : {}),
    };
  }
  const colon = text.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(text.slice(colon + 1))) {
    return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
  }
  return text === '' ? {} : { host: text };
}

function defined(attributes: SpanAttributes): Attributes {
  const result: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined) result[key] = value;
  }
  return result;
}

async function createExporter(
  name: TracingSettings['exporters'][number],
  protocol: TracingSettings['protocol'],
): Promise<SpanExporter> {
  if (name === 'console') return new ConsoleSpanExporter();
  // Each OTLP exporter reads its endpoint, headers, compression and timeout from OTEL_EXPORTER_OTLP_*.
  switch (protocol) {
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'http/protobuf':
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  }
}

/** A span processor per exporter: console spans are written at once, OTLP ones in batches. */
async function createSpanProcessors(settings: TracingSettings): Promise<SpanProcessor[]> {
  const exporters = await Promise.all(
    settings.exporters.map((name) => createExporter(name, settings.protocol)),
  );
  return exporters.map((exporter) =>
    exporter instanceof ConsoleSpanExporter
      ? new SimpleSpanProcessor(exporter)
      : new BatchSpanProcessor(exporter),
  );
}

/** Later resources win: our defaults, then OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES. */
function createResource(options: TracingOptions): Resource {
  return defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: options.serviceName,
        ...(options.serviceInstanceId !== undefined
          ? { 'service.instance.id': options.serviceInstanceId }
          : {}),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
}

/** Runs `fn` in a client span of `tracer`, recording a failure as the span's error. */
function spanRunner(tracer: Tracer): Tracing['withSpan'] {
  return (name, attributes, fn) =>
    tracer.startActiveSpan(
      name,
      { kind: SpanKind.CLIENT, attributes: defined(attributes) },
      async (span) => {
        try {
          return await fn();
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
}

/** Server spans of calls that do not come through the gRPC instrumentation (REST). */
function serverSpanStarter(tracer: Tracer): Tracing['startServerSpan'] {
  return (name, carrier, attributes) => {
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    const span = tracer.startSpan(
      name,
      { kind: SpanKind.SERVER, attributes: defined(attributes) },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const serverSpan: ServerSpan = {
      run: (fn) => context.with(active, fn),
      end(code, message) {
        span.setAttribute('rpc.grpc.status_code', code);
        if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message });
        span.end();
      },
    };
    return serverSpan;
  };
}

/**
 * The active span's ids for a log line. A fresh object every time: pino merges each line's own
 * fields into what the mixin returns.
 */
function activeSpanLogFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return {};
  return {
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
    trace_flags: `0${spanContext.traceFlags.toString(16)}`,
  };
}

/** Adds the server and peer addresses of the call to the active (server) span, when recording. */
function recordCallAddresses(call: ServerCallAddresses, attributes?: CallSpanAttributes): void {
  const span = trace.getSpan(context.active());
  if (!span?.isRecording()) return;
  if (attributes) span.setAttributes(defined(attributes(call)));
  const server = splitHostPort(call.getHost());
  const peer = splitHostPort(call.getPeer());
  span.setAttributes(
    defined({
      [ATTR_SERVER_ADDRESS]: server.host,
      [ATTR_SERVER_PORT]: server.port,
      [ATTR_NETWORK_PEER_ADDRESS]: peer.host,
      [ATTR_NETWORK_PEER_PORT]: peer.port,
    }),
  );
}

/** Wraps every handler so that its span records the call's addresses. */
function traceHandlers<H extends object>(handlers: H, attributes?: CallSpanAttributes): H {
  const traced: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    traced[name] =
      typeof handler === 'function'
        ? function (this: unknown, call: ServerCallAddresses, ...rest: unknown[]) {
            recordCallAddresses(call, attributes);
            return (handler as (...args: unknown[]) => unknown).call(this, call, ...rest);
          }
        : handler;
  }
  return traced as H;
}

/** Sends OpenTelemetry's own warnings and errors to `log`. */
function reportProblems(log: (message: string) => void): void {
  const write: DiagLogFunction = (message, ...args) =>
    log([message, ...args.map((arg) => String(arg))].join(' '));
  diag.setLogger(
    { error: write, warn: write, info: write, debug: write, verbose: write },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/**
 * Registers the gRPC instrumentation (first, before any exporter can load @grpc/grpc-js), then a
 * global tracer provider with a batching processor per exporter, the W3C trace-context and
 * baggage propagators and an AsyncLocalStorage context manager.
 */
export async function startOpenTelemetry(
  settings: TracingSettings,
  options: TracingOptions,
): Promise<Tracing> {
  const instrumentation = new GrpcInstrumentation({
    ignoreGrpcMethods: [...UNTRACED_GRPC_METHODS],
    metadataToSpanAttributes: { client: { responseMetadata: [REPLICA_HEADER] } },
  });
  const spanProcessors = await createSpanProcessors(settings);
  // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (read by the provider).
  const provider = new NodeTracerProvider({ resource: createResource(options), spanProcessors });
  provider.register();
  registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });

  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    withSpan: spanRunner(provider.getTracer('routeguide')),
    startServerSpan: serverSpanStarter(provider.getTracer('routeguide')),
    logFields: activeSpanLogFields,
    traceHandlers,
    reportProblems,
    shutdown() {
      stopping ??= Promise.race([
        provider.shutdown().catch(() => undefined),
        delay(SHUTDOWN_FLUSH_TIMEOUT_MS, undefined, { ref: false }),
      ]);
      return stopping;
    },
  };
}

/**
 * Tracing, as the rest of the code sees it: a small facade that is a frozen no-op object when
 * tracing is off. This module imports nothing from `@opentelemetry/*`: the SDK, the exporters and
 * the gRPC instrumentation (`./tracing-sdk`) are loaded only when the standard OpenTelemetry
 * environment variables ask for an exporter, so "off" costs no module, no hook and no per-call work.
 */
import type {
  OtlpProtocol,
  SpanAttributes,
  TraceExporterName,
  Tracing,
  TracingOptions,
  TracingSettings,
} from './tracing-types';

export type * from './tracing-types';

/** The span of a call while tracing is off. */
const NO_SPAN = Object.freeze({
  run: <T>(fn: () => T): T => fn(),
  end: () => undefined,
});

/** Tracing off: every method does nothing (or just calls through). */
export const TRACING_OFF: Tracing = Object.freeze({
  enabled: false,
  withSpan: <T>(_name: string, _attributes: SpanAttributes, fn: () => Promise<T>) => fn(),
  logFields: undefined,
  traceHandlers: <H extends object>(handlers: H) => handlers,
  startServerSpan: () => NO_SPAN,
  reportProblems: () => undefined,
  shutdown: () => Promise.resolve(),
});

/** A bad OTEL_* value; the message names the variable. */
export class TracingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TracingConfigError';
  }
}

const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json', 'grpc'];
const EXPORTERS: readonly string[] = ['otlp', 'console', 'none'];

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Reads the standard OpenTelemetry variables and decides whether tracing is on (undefined: off).
 *
 * Off unless an exporter is configured: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, a comma
 * list, or `none`) or, when that is unset, an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), which means `otlp`. `OTEL_SDK_DISABLED=true` turns it
 * off whatever else is set. The OTLP protocol is `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. Everything else (endpoints, headers,
 * timeouts, sampler, resource, batch sizes) is read by the SDK itself.
 */
export function tracingSettings(env: NodeJS.ProcessEnv): TracingSettings | undefined {
  const disabled = variable(env, 'OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    throw new TracingConfigError(
      `OTEL_SDK_DISABLED=${JSON.stringify(env['OTEL_SDK_DISABLED'])}: must be true or false`,
    );
  }
  if (disabled === 'true') return undefined;

  const listed = variable(env, 'OTEL_TRACES_EXPORTER');
  let names: string[];
  if (listed === undefined) {
    const endpoint =
      variable(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ??
      variable(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    if (endpoint === undefined) return undefined;
    names = ['otlp'];
  } else {
    names = listed.split(',').map((name) => name.trim().toLowerCase());
    const unknown = names.find((name) => !EXPORTERS.includes(name));
    if (unknown !== undefined) {
      throw new TracingConfigError(
        `OTEL_TRACES_EXPORTER=${JSON.stringify(listed)}: ${JSON.stringify(unknown)} is not one of otlp, console, none`,
      );
    }
    if (names.includes('none')) return undefined;
  }

  const protocolVariable = variable(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = variable(env, protocolVariable) ?? 'http/protobuf';
  if (!PROTOCOLS.includes(protocol)) {
    throw new TracingConfigError(
      `${protocolVariable}=${JSON.stringify(protocol)}: must be http/protobuf, http/json or grpc`,
    );
  }
  return {
    exporters: [...new Set(names)] as TraceExporterName[],
    protocol: protocol as OtlpProtocol,
  };
}

/**
 * Starts tracing when the environment configures an exporter, else returns {@link TRACING_OFF}
 * without loading anything. Call it before anything loads `@grpc/grpc-js`: the gRPC
 * instrumentation patches that module when it is first required. Throws a
 * {@link TracingConfigError} for an invalid OTEL_* value.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  // process.env, not a parameter: the SDK's exporters, sampler and resource read it too.
  const settings = tracingSettings(process.env);
  if (settings === undefined) return TRACING_OFF;
  const { startOpenTelemetry } = await import('./tracing-sdk');
  return startOpenTelemetry(settings, options);
}

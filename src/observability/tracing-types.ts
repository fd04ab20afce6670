/**
 * The types of the tracing facade (./tracing) and its SDK implementation (./tracing-sdk), in a
 * module of their own so that neither imports the other for types.
 */

/** Span attribute values the facade accepts (a subset of OpenTelemetry's; undefined is dropped). */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** The peer and authority of a server call, as grpc-js's server call objects expose them. */
export interface ServerCallAddresses {
  getPeer(): string;
  getHost(): string;
  /** The request metadata object (grpc-js's `call.metadata`). */
  readonly metadata: object;
}

/** Span attributes of one call beyond its addresses (e.g. `enduser.id`), computed only when it is recorded. */
export type CallSpanAttributes = (call: ServerCallAddresses) => SpanAttributes;
/** A server span started for a call that did not come through the gRPC instrumentation. */
export interface ServerSpan {
  /** Runs `fn` with the span active (child spans and log lines of the handler belong to it). */
  run<T>(fn: () => T): T;
  /** Ends the span with the call's gRPC status code (not OK: status ERROR with `message`). */
  end(code: number, message?: string): void;
}

/** What the app, its stores and the CLI use; `TRACING_OFF` (./tracing) when tracing is off. */
export interface Tracing {
  /** True when an exporter is configured and the OpenTelemetry SDK runs. */
  readonly enabled: boolean;
  /**
   * Runs `fn` inside a child span of the active span (kind CLIENT: a call to a dependency such
   * as Redis) named `name` with `attributes`, and ends the span when `fn` settles; a rejection
   * sets the span's status to ERROR, records the exception and is rethrown. Off: `fn()` as is.
   */
  withSpan<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T>;
  /**
   * `trace_id`, `span_id` and `trace_flags` of the active span, for every log line (a pino
   * mixin); an empty object outside a span. Undefined when off, so the logger installs no mixin.
   */
  readonly logFields: (() => Record<string, string>) | undefined;
  /**
   * Wraps gRPC service handlers so that each call's server span (started by the gRPC
   * instrumentation just before the handler runs) also carries the server address and port the
   * client dialled and the peer's address, plus `attributes(call)` when given. Off: returns
   * `handlers` itself.
   */
  traceHandlers<H extends object>(handlers: H, attributes?: CallSpanAttributes): H;
  /**
   * A SERVER span for a call that reaches the handlers another way (the REST gateway), child of
   * the W3C trace context in `carrier` (`traceparent`, `tracestate`), named like the gRPC
   * instrumentation's (`grpc.<service>/<method>`). Off: a no-op span.
   */
  startServerSpan(
    name: string,
    carrier: Readonly<Record<string, string | undefined>>,
    attributes: SpanAttributes,
  ): ServerSpan;
  /** Sends the OpenTelemetry SDK's own warnings and errors (e.g. failed exports) to `log`. */
  reportProblems(log: (message: string) => void): void;
  /** Exports the spans still buffered and stops; resolves within a few seconds even when the collector is unreachable. */
  shutdown(): Promise<void>;
}

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type TraceExporterName = 'otlp' | 'console';

/** What the environment asks for when tracing is on. */
export interface TracingSettings {
  readonly exporters: readonly TraceExporterName[];
  /** Protocol of the `otlp` exporter. */
  readonly protocol: OtlpProtocol;
}

/** Options for {@link startTracing}. */
export interface TracingOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` says otherwise. */
  readonly serviceName: string;
  /**
   * `service.instance.id` (the server's REPLICA_ID) unless `OTEL_RESOURCE_ATTRIBUTES` sets it.
   * Default: none.
   */
  readonly serviceInstanceId?: string;
}

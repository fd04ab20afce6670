import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * The part of the OTLP trace protocol (opentelemetry-proto, collector/trace/v1 and the messages
 * it uses) the tests read, written from the published field numbers; protobufjs skips every
 * field not declared here (events, links, dropped counts …).
 */
const OTLP_TRACE_SCHEMA = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { Scope scope = 1; repeated Span spans = 2; }
message Scope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  repeated KeyValue attributes = 9;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
`;

const ExportTraceServiceRequest = protobuf
  .parse(OTLP_TRACE_SCHEMA)
  .root.lookupType('otlp.ExportTraceServiceRequest');

/** OTLP span kinds (the protocol's numbering, not the JS API's). */
export const OTLP_SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
/** OTLP status codes. */
export const OTLP_STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

type AttributeValue = string | number | boolean | AttributeValue[];

/** One received span, the same whichever encoding carried it. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly status: { readonly code: number; readonly message: string };
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly scope: string;
  /** `application/x-protobuf`, `application/json` or `application/grpc`. */
  readonly contentType: string;
}

interface RawAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: RawAnyValue[] };
}
interface RawKeyValue {
  key: string;
  value?: RawAnyValue;
}
interface RawSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  attributes?: RawKeyValue[];
  status?: { code?: number; message?: string };
}
interface RawRequest {
  resourceSpans?: {
    resource?: { attributes?: RawKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: RawSpan[] }[];
  }[];
}

function value(raw: RawAnyValue | undefined): AttributeValue {
  if (raw === undefined) return '';
  if (raw.stringValue !== undefined) return raw.stringValue;
  if (raw.boolValue !== undefined) return raw.boolValue;
  if (raw.intValue !== undefined) return Number(raw.intValue);
  if (raw.doubleValue !== undefined) return raw.doubleValue;
  return (raw.arrayValue?.values ?? []).map(value);
}

function attributes(list: RawKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/** Flattens a request (ids already hex) into spans. */
function spansOf(request: RawRequest, contentType: string): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((span) => ({
        traceId: span.traceId ?? '',
        spanId: span.spanId ?? '',
        parentSpanId: span.parentSpanId ?? '',
        name: span.name ?? '',
        kind: span.kind ?? 0,
        attributes: attributes(span.attributes),
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        resource: attributes(rs.resource?.attributes),
        scope: ss.scope?.name ?? '',
        contentType,
      })),
    ),
  );
}

const hex = (base64: unknown) => Buffer.from(String(base64 ?? ''), 'base64').toString('hex');

function decodeProtobuf(body: Buffer): RawRequest {
  const object = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), {
    longs: String,
    bytes: String,
    oneofs: false,
  }) as RawRequest;
  for (const rs of object.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        span.traceId = hex(span.traceId);
        span.spanId = hex(span.spanId);
        span.parentSpanId = hex(span.parentSpanId);
      }
    }
  }
  return object;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** The OTLP/gRPC trace service, with raw bytes in and out (decoded like the HTTP bodies). */
const TRACE_SERVICE: grpc.ServiceDefinition = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (bytes: Buffer) => bytes,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

/**
 * An OTLP/HTTP trace receiver on 127.0.0.1:0 (what an OpenTelemetry Collector's `otlp` receiver
 * does on :4318): accepts `POST /v1/traces` as `application/x-protobuf` or `application/json`,
 * answers an empty success, and keeps every span it decoded.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests that were not a decodable trace export (should stay empty). */
  readonly rejected: string[] = [];
  private readonly waiters: (() => void)[] = [];

  private grpcServer: grpc.Server | undefined;
  private grpcPort: number | undefined;

  private constructor(private readonly server: Server) {}

  /** Also receive OTLP/gRPC (`TraceService/Export`) on another 127.0.0.1 port. */
  async startGrpc(): Promise<void> {
    const server = new grpc.Server();
    server.addService(TRACE_SERVICE, {
      Export: (
        call: grpc.ServerUnaryCall<Buffer, Buffer>,
        callback: grpc.sendUnaryData<Buffer>,
      ) => {
        this.spans.push(...spansOf(decodeProtobuf(call.request), 'application/grpc'));
        callback(null, Buffer.alloc(0));
        for (const wake of this.waiters.splice(0)) wake();
      },
    });
    this.grpcServer = server;
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
  }

  /** Endpoint of the gRPC receiver (after startGrpc). */
  get grpcEndpoint(): string {
    if (this.grpcPort === undefined) throw new Error('startGrpc() first');
    return `http://127.0.0.1:${this.grpcPort}`;
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (request, response) => {
      void readBody(request).then((body) => {
        const contentType = String(request.headers['content-type'] ?? '').split(';')[0]!;
        try {
          if (request.method !== 'POST' || request.url !== '/v1/traces') {
            throw new Error(`${request.method} ${request.url}`);
          }
          const decoded =
            contentType === 'application/json'
              ? (JSON.parse(body.toString('utf8')) as RawRequest)
              : decodeProtobuf(body);
          receiver.spans.push(...spansOf(decoded, contentType));
        } catch (error) {
          receiver.rejected.push(String(error));
          response.writeHead(400).end();
          return;
        }
        // An empty ExportTraceServiceResponse is an empty body in either encoding.
        response
          .writeHead(200, { 'content-type': contentType })
          .end(contentType === 'application/json' ? '{}' : '');
        for (const wake of receiver.waiters.splice(0)) wake();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves with the spans once `predicate` holds for them, or rejects after `timeoutMs`. */
  async waitFor(
    predicate: (spans: readonly ReceivedSpan[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<readonly ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.spans)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `spans not received within ${timeoutMs} ms; got ${JSON.stringify(this.spans)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.spans;
  }

  close(): Promise<void> {
    this.grpcServer?.forceShutdown();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

import { DEFAULT_SCOPES } from '../auth/scopes';
import type * as protoLoader from '@grpc/proto-loader';
import type { HttpBinding } from './http-rules';
import { type JsonField, type JsonSchema, MessageSchemas, STATUS_SCHEMA } from './openapi-schemas';
import type { ProtoComments } from './proto-comments';

/** An OpenAPI 3.1 document as plain JSON. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: JsonSchema;
  readonly servers: readonly JsonSchema[];
  readonly tags: readonly JsonSchema[];
  readonly paths: Record<string, Record<string, JsonSchema>>;
  readonly components: {
    readonly schemas: Record<string, JsonSchema>;
    readonly responses: Record<string, JsonSchema>;
    readonly parameters: Record<string, JsonSchema>;
    readonly securitySchemes: Record<string, JsonSchema>;
  };
}

/** Options for {@link buildOpenApiDocument}. */
export interface OpenApiOptions {
  /** The routes to document: `httpBindings(packageDefinition)`. */
  readonly bindings: readonly HttpBinding[];
  /** Where the bindings' request and response messages are described. */
  readonly packageDefinition: protoLoader.PackageDefinition;
  /**
   * The .proto comments (`loadProtoComments`): tag, operation, schema and field descriptions.
   * Default: none; an operation is then summed up by its method name and gRPC path.
   */
  readonly comments?: ProtoComments;
  /** `info.title`. Default: `RouteGuide REST API`. */
  readonly title?: string;
  /** `info.version`. Default: `1.0.0`. */
  readonly version?: string;
  /**
   * Whether the bound operations take a bearer token (`securitySchemes.bearerAuth`). Default:
   * true (a server without authentication simply ignores the header).
   */
  readonly bearerAuth?: boolean;
  /** Scopes a token needs, by gRPC method path. Default: {@link DEFAULT_SCOPES}. */
  readonly requiredScopes?: Readonly<Record<string, readonly string[]>>;
  /** Path of the health endpoint to document, or false for none. Default: `/healthz`. */
  readonly healthPath?: string | false;
}

/** Media type of newline-delimited JSON: one JSON value per line. */
export const NDJSON = 'application/x-ndjson';
/** Media type of Server-Sent Events. */
export const EVENT_STREAM = 'text/event-stream';

/** grpc-gateway's gRPC→HTTP status table, for the statuses the gateway documents. */
const ERROR_RESPONSES: readonly {
  readonly status: string;
  readonly name: string;
  readonly codes: string;
  readonly headers?: Record<string, JsonSchema>;
}[] = [
  {
    status: '400',
    name: 'BadRequest',
    codes:
      'INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE; also malformed JSON or parameters',
  },
  {
    status: '401',
    name: 'Unauthenticated',
    codes: 'UNAUTHENTICATED: no credential, or one that proves nothing',
    headers: {
      'WWW-Authenticate': {
        description: 'The bearer challenge (RFC 6750), e.g. `Bearer`.',
        schema: { type: 'string' },
      },
    },
  },
  {
    status: '403',
    name: 'PermissionDenied',
    codes: 'PERMISSION_DENIED: the token lacks the scope the method requires',
    headers: {
      'WWW-Authenticate': {
        description: 'e.g. `Bearer error="insufficient_scope"`.',
        schema: { type: 'string' },
      },
    },
  },
  { status: '404', name: 'NotFound', codes: 'NOT_FOUND; also an unknown route' },
  { status: '429', name: 'ResourceExhausted', codes: 'RESOURCE_EXHAUSTED: a quota or limit' },
  { status: '499', name: 'Cancelled', codes: 'CANCELLED: the client went away' },
  { status: '500', name: 'Internal', codes: 'INTERNAL, UNKNOWN or DATA_LOSS' },
  {
    status: '503',
    name: 'Unavailable',
    codes: 'UNAVAILABLE: the server sheds load, drains or misses a dependency; retry later',
    headers: {
      'Retry-After': {
        description: 'Seconds to wait before retrying, when the server sheds load.',
        schema: { type: 'integer' },
      },
    },
  },
  { status: '504', name: 'DeadlineExceeded', codes: 'DEADLINE_EXCEEDED' },
];

/**
 * An OpenAPI 3.1.0 document for the REST gateway, made from the HTTP bindings and the message
 * descriptors (nothing hand-written per method): one operation per binding with its path, query
 * and body parameters, NDJSON / SSE media types for streams, the proto3 JSON schemas of every
 * message reached, `google.rpc.Status` errors, the bearer scheme and the health endpoint.
 * `servers` is `/`, so the document holds behind any host. Throws when two bindings claim the
 * same method and path, or a binding names a field its request lacks.
 */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const comments = options.comments ?? new Map<string, string>();
  const schemas = new MessageSchemas(options.packageDefinition, comments);
  const builder = new OperationBuilder(schemas, comments, options);
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const operationIds = new Set<string>();
  for (const binding of options.bindings) {
    const path = openApiPath(binding);
    const method = binding.httpMethod.toLowerCase();
    const item = (paths[path] ??= {});
    if (item[method] !== undefined) {
      throw new Error(
        `openapi: ${binding.httpMethod} ${path} is bound twice (${binding.grpcPath})`,
      );
    }
    item[method] = builder.operation(binding, uniqueOperationId(binding, operationIds));
    schemas.ref(binding.requestType); // a schema for every request, even one sent as parameters
  }
  const healthPath = options.healthPath ?? '/healthz';
  if (healthPath !== false && paths[healthPath]?.get === undefined) {
    (paths[healthPath] ??= {}).get = healthOperation();
  }
  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'RouteGuide REST API',
      version: options.version ?? '1.0.0',
      description: DOCUMENT_DESCRIPTION,
    },
    servers: [{ url: '/', description: 'The server that serves this document' }],
    tags: tags(options.bindings, comments, healthPath !== false),
    paths,
    components: {
      schemas: { ...schemas.schemas(), ...builder.streamSchemas, ...HEALTH_SCHEMAS },
      responses: Object.fromEntries(ERROR_RESPONSES.map((e) => [e.name, errorResponse(e)])),
      parameters: { GrpcTimeout: GRPC_TIMEOUT },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A bearer token in `Authorization: Bearer <token>`. Each operation lists the scopes it needs in `x-required-scopes`.',
        },
      },
    },
  };
}

const DOCUMENT_DESCRIPTION = [
  'The RouteGuide gRPC service as RESTful JSON, transcoded from the `google.api.http` annotations of route_guide.proto.',
  '',
  'Messages use the proto3 JSON mapping: lowerCamelCase field names (the .proto names are accepted too), fields with zero values present in responses, 64-bit integers as strings, enums by name; unknown request fields are ignored.',
  'A failed call answers a `google.rpc.Status` JSON body with the HTTP status of grpc-gateway’s table. `Grpc-Timeout` sets the call’s deadline; `Grpc-Metadata-*` request headers are passed on as gRPC metadata.',
  'Server streams answer NDJSON, or Server-Sent Events with `Accept: text/event-stream`; client streams accept NDJSON or a JSON array.',
].join('\n');

const GRPC_TIMEOUT: JsonSchema = {
  name: 'Grpc-Timeout',
  in: 'header',
  required: false,
  description:
    'The call’s deadline in gRPC’s timeout format: digits and a unit, `H`, `M`, `S`, `m` (ms), `u` or `n`, e.g. `5S`.',
  schema: { type: 'string', pattern: '^[0-9]{1,8}[HMSmun]$' },
};

/** Builds the operation object of each binding; collects the stream line schemas. */
class OperationBuilder {
  readonly streamSchemas: Record<string, JsonSchema> = {};

  constructor(
    private readonly schemas: MessageSchemas,
    private readonly comments: ProtoComments,
    private readonly options: OpenApiOptions,
  ) {}

  operation(binding: HttpBinding, operationId: string): JsonSchema {
    const comment = this.comments.get(`${binding.service}.${binding.method}`);
    const scopes = (this.options.requiredScopes ?? DEFAULT_SCOPES)[binding.grpcPath] ?? [];
    const secured = this.options.bearerAuth ?? true;
    const requestBody = this.requestBody(binding);
    return {
      operationId,
      tags: [shortName(binding.service)],
      summary:
        comment === undefined ? `${binding.method} (${rpcKind(binding)})` : summaryOf(comment),
      description: this.description(binding, comment, secured ? scopes : []),
      parameters: [...this.parameters(binding), { $ref: '#/components/parameters/GrpcTimeout' }],
      ...(requestBody === undefined ? {} : { requestBody }),
      responses: {
        '200': this.success(binding),
        ...Object.fromEntries(
          ERROR_RESPONSES.map((e) => [e.status, { $ref: `#/components/responses/${e.name}` }]),
        ),
      },
      ...(secured ? { security: [{ bearerAuth: [] }], 'x-required-scopes': [...scopes] } : {}),
    };
  }

  private description(
    binding: HttpBinding,
    comment: string | undefined,
    scopes: readonly string[],
  ): string {
    const request = shortName(binding.requestType);
    const response = shortName(binding.responseType);
    const parts = [comment];
    parts.push(`gRPC method: \`${binding.grpcPath}\` (${rpcKind(binding)}).`);
    if (binding.requestStream) {
      parts.push(
        `The request body is a stream of ${request} messages: NDJSON (\`${NDJSON}\`, one JSON message per line) or one JSON array (\`application/json\`).`,
      );
    }
    if (binding.responseStream) {
      parts.push(
        `The response is a stream of ${response} messages. By default NDJSON (\`${NDJSON}\`): one \`{"result": ${response}}\` line per message, and a last \`{"error": Status}\` line if the call fails after it started. ` +
          `With \`Accept: ${EVENT_STREAM}\`, Server-Sent Events: one \`result\` event per message (data: the ${response} JSON), then either an \`end\` event (the call ended OK) or an \`error\` event (data: a google.rpc.Status), after which the server closes; an \`EventSource\` client closes on either instead of reconnecting and re-running the call.`,
      );
    }
    if (binding.requestStream && binding.responseStream) {
      parts.push(
        `Over plain HTTP the call is half-duplex: the server reads the whole request body before it answers. ` +
          `For full duplex, open a WebSocket on the same path (\`GET ${openApiPath(binding)}\` with \`Upgrade: websocket\`): send one JSON ${request} per text message and receive one JSON ${response} per message; the last message and the close frame carry the call's status (close code 1000 when it ended OK). Browsers cannot set \`Authorization\` on a WebSocket: see docs/rest.md for how they authenticate.`,
      );
    }
    if (scopes.length > 0) {
      parts.push(`Requires a bearer token with scope ${scopes.map((s) => `\`${s}\``).join(', ')}.`);
    }
    return parts.filter((p) => p !== undefined).join('\n\n');
  }

  private parameters(binding: HttpBinding): JsonSchema[] {
    const bound = binding.template.variables.map((v) => v.fieldPath);
    const path = bound.map((fieldPath) => {
      const field = this.schemas.fieldAt(binding.requestType, fieldPath);
      const schema =
        field.kind === 'message' || field.repeated
          ? { type: 'string' }
          : this.schemas.fieldSchema(field);
      return {
        name: fieldPath.join('.'),
        in: 'path',
        required: true,
        ...(field.comment === undefined ? {} : { description: field.comment }),
        schema: withoutDescription(schema),
      };
    });
    return [...path, ...this.wildcardParameters(binding), ...this.queryParameters(binding, bound)];
  }

  /** `*` and `**` segments outside any variable: matched, but they set no field. */
  private wildcardParameters(binding: HttpBinding): JsonSchema[] {
    return unboundWildcards(binding).map((index) => ({
      name: `_${index}`,
      in: 'path',
      required: true,
      description: 'Any path segment; it sets no field.',
      schema: { type: 'string' },
    }));
  }

  /** Fields neither the path nor the body sets, by dotted JSON path (`lo.latitude`). */
  private queryParameters(
    binding: HttpBinding,
    bound: readonly (readonly string[])[],
  ): JsonSchema[] {
    if (binding.body === '*') return [];
    const isBound = (jsonPath: readonly JsonField[]): boolean =>
      bound.some((b) =>
        b.every(
          (part, i) =>
            i < jsonPath.length &&
            (jsonPath[i]!.protoName === part || jsonPath[i]!.jsonName === part),
        ),
      ) ||
      (binding.body !== undefined && jsonPath[0]?.protoName === binding.body);
    return this.leafFields(binding.requestType, [], new Set())
      .filter((leaf) => !isBound(leaf))
      .map((leaf) => {
        const field = leaf[leaf.length - 1]!;
        return {
          name: leaf.map((f) => f.jsonName).join('.'),
          in: 'query',
          required: false,
          ...(field.comment === undefined ? {} : { description: field.comment }),
          schema: withoutDescription(this.schemas.fieldSchema(field)),
          ...(field.repeated ? { style: 'form', explode: true } : {}),
        };
      });
  }

  /** Every scalar or enum field reachable through singular message fields, as field chains. */
  private leafFields(message: string, prefix: JsonField[], seen: Set<string>): JsonField[][] {
    const leaves: JsonField[][] = [];
    for (const field of this.schemas.fields(message)) {
      const chain = [...prefix, field];
      if (field.kind === 'map' || (field.kind === 'message' && field.repeated)) continue;
      if (field.kind !== 'message') {
        leaves.push(chain);
      } else if (field.typeName!.startsWith('google.protobuf.')) {
        leaves.push(chain); // well-known types have scalar JSON forms
      } else if (!seen.has(field.typeName!)) {
        leaves.push(...this.leafFields(field.typeName!, chain, new Set([...seen, message])));
      }
    }
    return leaves;
  }

  private requestBody(binding: HttpBinding): JsonSchema | undefined {
    if (binding.body === undefined) return undefined;
    const item =
      binding.body === '*'
        ? this.schemas.ref(binding.requestType)
        : this.schemas.fieldSchema(this.schemas.fieldAt(binding.requestType, [binding.body]));
    if (!binding.requestStream) {
      return { required: true, content: { 'application/json': { schema: item } } };
    }
    return {
      required: false,
      description: `A stream of ${shortName(binding.requestType)} messages; an empty body is an empty stream.`,
      content: {
        [NDJSON]: {
          schema: {
            ...item,
            description: 'One JSON message per line; this is the schema of a line.',
          },
        },
        'application/json': { schema: { type: 'array', items: item } },
      },
    };
  }

  private success(binding: HttpBinding): JsonSchema {
    const message = this.schemas.ref(binding.responseType);
    if (!binding.responseStream) {
      return { description: 'OK', content: { 'application/json': { schema: message } } };
    }
    const lineName = `StreamLine_${binding.responseType}`;
    this.streamSchemas[lineName] = streamLine(message, binding.responseType);
    const line = { $ref: `#/components/schemas/${lineName}` };
    return {
      description:
        'The stream has started: each message follows as it is produced; a failure after this point arrives in the stream, not as an HTTP status.',
      content: {
        [NDJSON]: {
          schema: {
            ...line,
            description: 'One JSON object per line; this is the schema of a line.',
          },
        },
        [EVENT_STREAM]: {
          schema: {
            type: 'string',
            description:
              "Server-Sent Events: `result` (data: one message as JSON), then `end` (the call ended OK) or `error` (data: a google.rpc.Status); the server then closes. `x-events` gives each event's data schema.",
          },
          'x-events': {
            result: message,
            end: { description: 'The call ended OK; close the EventSource.' },
            error: { $ref: `#/components/schemas/${STATUS_SCHEMA}` },
          },
        },
      },
    };
  }
}

/** One NDJSON line of a server stream: a result or the error that ended the stream. */
function streamLine(message: JsonSchema, typeName: string): JsonSchema {
  return {
    type: 'object',
    description: `One line of a ${typeName} stream: a result, or the error that ended the stream (last line).`,
    properties: { result: message, error: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } },
    oneOf: [{ required: ['result'] }, { required: ['error'] }],
  };
}

function errorResponse(e: (typeof ERROR_RESPONSES)[number]): JsonSchema {
  return {
    description: `gRPC ${e.codes}.`,
    ...(e.headers === undefined ? {} : { headers: e.headers }),
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } },
  };
}

const HEALTH_SCHEMAS: Record<string, JsonSchema> = {
  'grpc.health.v1.HealthCheckResponse': {
    type: 'object',
    description: 'The serving status of the server (grpc.health.v1).',
    properties: {
      status: { type: 'string', enum: ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] },
    },
    required: ['status'],
  },
};

function healthOperation(): JsonSchema {
  const body = (example: string): JsonSchema => ({
    'application/json': {
      schema: { $ref: '#/components/schemas/grpc.health.v1.HealthCheckResponse' },
      example: { status: example },
    },
  });
  return {
    operationId: 'Health_Check',
    tags: ['Health'],
    summary: 'Whether the server serves',
    description:
      'The grpc.health.v1 Health.Check of the whole server, for probes and load balancers. Needs no token.',
    security: [],
    responses: {
      '200': { description: 'SERVING', content: body('SERVING') },
      '503': {
        description: 'Not serving (starting, draining or shedding): send traffic elsewhere.',
        content: body('NOT_SERVING'),
      },
    },
  };
}

function tags(
  bindings: readonly HttpBinding[],
  comments: ProtoComments,
  health: boolean,
): JsonSchema[] {
  const services = [...new Set(bindings.map((b) => b.service))];
  const serviceTags = services.map((service) => {
    const comment = comments.get(service);
    return {
      name: shortName(service),
      description: `${comment === undefined ? '' : `${comment} `}(gRPC service \`${service}\`)`,
    };
  });
  return health
    ? [...serviceTags, { name: 'Health', description: 'Liveness and readiness of the server.' }]
    : serviceTags;
}

/** The OpenAPI path of a template: `{field.path}` per variable, `{_i}` per lone wildcard, `:verb`. */
export function openApiPath(binding: HttpBinding): string {
  const { segments, variables, verb } = binding.template;
  const parts: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const variable = variables.find((v) => v.start === i);
    if (variable !== undefined) {
      parts.push(`{${variable.fieldPath.join('.')}}`);
      i += variable.length - 1;
      continue;
    }
    const segment = segments[i]!;
    parts.push(segment.kind === 'literal' ? segment.value : `{_${i}}`);
  }
  return `/${parts.join('/')}${verb === undefined ? '' : `:${verb}`}`;
}

function unboundWildcards(binding: HttpBinding): number[] {
  const { segments, variables } = binding.template;
  const inVariable = (i: number): boolean =>
    variables.some((v) => i >= v.start && i < v.start + v.length);
  return segments.flatMap((s, i) => (s.kind !== 'literal' && !inVariable(i) ? [i] : []));
}

/** `RouteGuide_GetFeature`; a method's further bindings get `2`, `3`, … appended. */
function uniqueOperationId(binding: HttpBinding, taken: Set<string>): string {
  const base = `${shortName(binding.service)}_${binding.method}`;
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}${n}`;
  taken.add(id);
  return id;
}

function rpcKind(binding: HttpBinding): string {
  if (binding.requestStream && binding.responseStream) return 'bidirectional streaming';
  if (binding.requestStream) return 'client streaming';
  if (binding.responseStream) return 'server streaming';
  return 'unary';
}

function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

/** The first sentence of a comment. */
function summaryOf(comment: string): string {
  const text = comment.split('\n\n')[0]!;
  return /^.*?[.!?](?=\s|$)/.exec(text)?.[0] ?? text;
}

function withoutDescription(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(
    Object.entries(schema).filter(([keyword]) => keyword !== 'description'),
  );
}

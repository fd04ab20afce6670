import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { httpBindings } from '../../src/gateway/http-rules';
import { buildOpenApiDocument, type OpenApiDocument } from '../../src/gateway/openapi';
import { lowerCamelCase } from '../../src/gateway/openapi-schemas';
import { loadProtoComments } from '../../src/gateway/proto-comments';
import {
  GOOGLE_API_PROTO_DIR,
  loadRouteGuideProto,
  PROTO_LOADER_OPTIONS,
  ROUTE_GUIDE_PROTO,
} from '../../src/protocol/proto';
import { validateOpenApi } from '../helpers/openapi-validator';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function routeGuideDocument(withComments = true): OpenApiDocument {
  const { packageDefinition } = loadRouteGuideProto();
  return buildOpenApiDocument({
    bindings: httpBindings(packageDefinition),
    packageDefinition,
    ...(withComments
      ? { comments: loadProtoComments(ROUTE_GUIDE_PROTO, PROTO_LOADER_OPTIONS.includeDirs ?? []) }
      : {}),
  });
}

const ERROR_STATUSES = ['400', '401', '403', '404', '429', '499', '500', '503', '504'];

describe('the OpenAPI document of RouteGuide', () => {
  const doc = routeGuideDocument() as unknown as Json;
  const op = (p: string, method: string): Json => doc.paths[p][method];

  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', () => {
    const result = validateOpenApi(doc);
    expect(result).toEqual({ valid: true, version: '3.1' });
    // The validator is not vacuous: a Media Type Object may not carry a description in 3.1.
    const broken = structuredClone(doc);
    broken.paths['/v1/features'].get.responses['200'].content['application/x-ndjson'].description =
      'x';
    expect(validateOpenApi(broken).valid).toBe(false);
  });

  it('has one operation per binding, the health endpoint, and a relative server', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    const operations = Object.entries(doc.paths as Json).flatMap(([p, item]) =>
      Object.entries(item as Json).map(([method, o]) => [method.toUpperCase(), p, o.operationId]),
    );
    expect(operations).toEqual([
      ['GET', '/v1/features/{latitude}/{longitude}', 'RouteGuide_GetFeature'],
      ['GET', '/v1/features', 'RouteGuide_ListFeatures'],
      ['POST', '/v1/routes', 'RouteGuide_RecordRoute'],
      ['POST', '/v1/notes:chat', 'RouteGuide_RouteChat'],
      ['GET', '/healthz', 'Health_Check'],
    ]);
    expect(doc.tags.map((t: Json) => t.name)).toEqual(['RouteGuide', 'Health']);
    expect(doc.tags[0].description).toMatch(/^Answers questions about named places/);
  });

  it('takes summaries and descriptions from the proto comments', () => {
    const get = op('/v1/features/{latitude}/{longitude}', 'get');
    expect(get.summary).toBe('Returns the feature stored at the given point.');
    expect(get.description).toMatch(
      /^Returns the feature stored at the given point\. A point with no stored feature yields/,
    );
    expect(get.description).toContain('`/routeguide.RouteGuide/GetFeature` (unary)');
    expect(doc.components.schemas['routeguide.RouteSummary'].properties.pointCount).toEqual({
      type: 'integer',
      format: 'int32',
      description: 'Number of points received.',
    });
    // Without comments: the method name and its kind.
    const bare = routeGuideDocument(false) as unknown as Json;
    expect(bare.paths['/v1/routes'].post.summary).toBe('RecordRoute (client streaming)');
    expect(validateOpenApi(bare).valid).toBe(true);
  });

  it('maps path variables to path parameters and the other fields to dotted query parameters', () => {
    expect(op('/v1/features/{latitude}/{longitude}', 'get').parameters).toEqual([
      {
        name: 'latitude',
        in: 'path',
        required: true,
        schema: { type: 'integer', format: 'int32' },
      },
      {
        name: 'longitude',
        in: 'path',
        required: true,
        schema: { type: 'integer', format: 'int32' },
      },
      { $ref: '#/components/parameters/GrpcTimeout' },
    ]);
    const list = op('/v1/features', 'get').parameters as Json[];
    expect(list.map((p) => [p.name, p.in, p.schema?.type])).toEqual([
      ['lo.latitude', 'query', 'integer'],
      ['lo.longitude', 'query', 'integer'],
      ['hi.latitude', 'query', 'integer'],
      ['hi.longitude', 'query', 'integer'],
      [undefined, undefined, undefined],
    ]);
    expect(op('/v1/routes', 'post').parameters).toEqual([
      { $ref: '#/components/parameters/GrpcTimeout' },
    ]);
  });

  it('documents client streams as NDJSON or a JSON array, server streams as NDJSON or SSE', () => {
    const point = { $ref: '#/components/schemas/routeguide.Point' };
    const record = op('/v1/routes', 'post');
    expect(Object.keys(record.requestBody.content)).toEqual([
      'application/x-ndjson',
      'application/json',
    ]);
    expect(record.requestBody.content['application/x-ndjson'].schema).toMatchObject(point);
    expect(record.requestBody.content['application/json'].schema).toEqual({
      type: 'array',
      items: point,
    });
    expect(record.responses['200'].content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/routeguide.RouteSummary' } },
    });
    expect(op('/v1/features/{latitude}/{longitude}', 'get').requestBody).toBeUndefined();

    const list = op('/v1/features', 'get').responses['200'].content;
    expect(Object.keys(list)).toEqual(['application/x-ndjson', 'text/event-stream']);
    expect(list['application/x-ndjson'].schema.$ref).toBe(
      '#/components/schemas/StreamLine_routeguide.Feature',
    );
    expect(doc.components.schemas['StreamLine_routeguide.Feature']).toMatchObject({
      properties: {
        result: { $ref: '#/components/schemas/routeguide.Feature' },
        error: { $ref: '#/components/schemas/google.rpc.Status' },
      },
      oneOf: [{ required: ['result'] }, { required: ['error'] }],
    });
    for (const event of ['`result`', '`end`', '`error`']) {
      expect(list['text/event-stream'].schema.description).toContain(event);
    }
    expect(Object.keys(list['text/event-stream']['x-events'])).toEqual(['result', 'end', 'error']);

    const chat = op('/v1/notes:chat', 'post');
    expect(Object.keys(chat.requestBody.content)).toEqual([
      'application/x-ndjson',
      'application/json',
    ]);
    expect(Object.keys(chat.responses['200'].content)).toEqual([
      'application/x-ndjson',
      'text/event-stream',
    ]);
    expect(chat.description).toMatch(/WebSocket on the same path .*Upgrade: websocket/);
    expect(chat.description).toContain('half-duplex');
  });

  it('has a proto3 JSON schema for every message, and google.rpc.Status errors', () => {
    const schemas = doc.components.schemas as Json;
    expect(Object.keys(schemas).sort()).toEqual([
      'StreamLine_routeguide.Feature',
      'StreamLine_routeguide.RouteNote',
      'google.rpc.Status',
      'grpc.health.v1.HealthCheckResponse',
      'routeguide.Feature',
      'routeguide.Point',
      'routeguide.Rectangle',
      'routeguide.RouteNote',
      'routeguide.RouteSummary',
    ]);
    expect(Object.keys(schemas['routeguide.RouteSummary'].properties)).toEqual([
      'pointCount',
      'featureCount',
      'distance',
      'elapsedTime',
    ]);
    expect(schemas['routeguide.Feature'].properties.location).toEqual({
      $ref: '#/components/schemas/routeguide.Point',
    });
    expect(schemas['google.rpc.Status']).toMatchObject({
      properties: {
        code: { type: 'integer', format: 'int32' },
        message: { type: 'string' },
        details: { type: 'array' },
      },
    });
    for (const [p, item] of Object.entries(doc.paths as Json)) {
      if (p === '/healthz') continue;
      const responses = (Object.values(item as Json)[0] as Json).responses;
      expect(Object.keys(responses)).toEqual(['200', ...ERROR_STATUSES]);
    }
    const responses = doc.components.responses as Json;
    for (const response of Object.values(responses)) {
      expect(response.content['application/json'].schema.$ref).toBe(
        '#/components/schemas/google.rpc.Status',
      );
    }
    expect(Object.keys(responses.Unauthenticated.headers)).toEqual(['WWW-Authenticate']);
    expect(Object.keys(responses.Unavailable.headers)).toEqual(['Retry-After']);
  });

  it('requires the bearer scheme with per-operation scopes, and leaves /healthz open', () => {
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    });
    const scopes = Object.values(doc.paths as Json).flatMap((item) =>
      Object.values(item as Json).map((o: Json) => [
        o.operationId,
        o.security,
        o['x-required-scopes'],
      ]),
    );
    const bearer = [{ bearerAuth: [] }];
    expect(scopes).toEqual([
      ['RouteGuide_GetFeature', bearer, ['routeguide.read']],
      ['RouteGuide_ListFeatures', bearer, ['routeguide.read']],
      ['RouteGuide_RecordRoute', bearer, ['routeguide.write']],
      ['RouteGuide_RouteChat', bearer, ['routeguide.write']],
      ['Health_Check', [], undefined],
    ]);
    expect(op('/v1/routes', 'post').description).toContain('scope `routeguide.write`');
    expect(Object.keys(op('/healthz', 'get').responses)).toEqual(['200', '503']);
  });
});

describe('the OpenAPI generator on other protos', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'openapi-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function documentOf(proto: string): Json {
    const file = path.join(dir, `p${Math.random().toString(36).slice(2)}.proto`);
    writeFileSync(file, proto);
    const options = { ...PROTO_LOADER_OPTIONS, includeDirs: [dir, GOOGLE_API_PROTO_DIR] };
    const packageDefinition = protoLoader.loadSync(file, options);
    return buildOpenApiDocument({
      bindings: httpBindings(packageDefinition),
      packageDefinition,
      comments: loadProtoComments(file, options.includeDirs),
      bearerAuth: false,
      healthPath: false,
    }) as unknown as Json;
  }

  const HEADER = `syntax = "proto3";
package demo.v1;
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";
`;

  it('follows the proto3 JSON mapping: 64-bit as strings, enums by name, maps, well-known types', () => {
    const doc = documentOf(`${HEADER}
service Shelf {
  rpc Get(GetRequest) returns (Book) { option (google.api.http) = { get: "/v1/shelves/{shelf_id}/books/{book.id}" }; }
}
enum Kind { KIND_UNSPECIFIED = 0; NOVEL = 1; }
message GetRequest {
  int64 shelf_id = 1;
  Book book = 2;
  repeated string tags = 3;
  Kind kind = 4;
}
message Book {
  // The book's id.
  uint64 id = 1;
  Kind kind = 2;
  map<string, int32> counts = 3;
  repeated Book related = 4;
  google.protobuf.Timestamp published_at = 5;
  message Note { bytes raw_bytes = 1; }
  Note note = 6;
  double price = 7;
  bool in_stock = 8;
}
`);
    expect(validateOpenApi(doc)).toEqual({ valid: true, version: '3.1' });
    const get = doc.paths['/v1/shelves/{shelf_id}/books/{book.id}'].get;
    expect(get.security).toBeUndefined();
    expect(get.parameters.map((p: Json) => [p.name, p.in, p.schema])).toEqual([
      ['shelf_id', 'path', { type: 'string', format: 'int64' }],
      ['book.id', 'path', { type: 'string', format: 'uint64' }],
      // book.id is bound by the path; the rest of book (not its repeated messages) by the query.
      ['book.kind', 'query', { $ref: '#/components/schemas/demo.v1.Kind' }],
      ['book.publishedAt', 'query', { type: 'string', format: 'date-time' }],
      [
        'book.note.rawBytes',
        'query',
        { type: 'string', format: 'byte', contentEncoding: 'base64' },
      ],
      ['book.price', 'query', { type: 'number', format: 'double' }],
      ['book.inStock', 'query', { type: 'boolean' }],
      ['tags', 'query', { type: 'array', items: { type: 'string' } }],
      ['kind', 'query', { $ref: '#/components/schemas/demo.v1.Kind' }],
      [undefined, undefined, undefined],
    ]);
    const schemas = doc.components.schemas as Json;
    expect(schemas['demo.v1.Kind']).toEqual({
      type: 'string',
      enum: ['KIND_UNSPECIFIED', 'NOVEL'],
    });
    expect(schemas['demo.v1.Book'].properties).toEqual({
      id: {
        type: 'string',
        format: 'uint64',
        description: "The book's id.",
      },
      kind: { $ref: '#/components/schemas/demo.v1.Kind' },
      counts: { type: 'object', additionalProperties: { type: 'integer', format: 'int32' } },
      related: { type: 'array', items: { $ref: '#/components/schemas/demo.v1.Book' } },
      publishedAt: { type: 'string', format: 'date-time' },
      note: { $ref: '#/components/schemas/demo.v1.Book.Note' },
      price: { type: 'number', format: 'double' },
      inStock: { type: 'boolean' },
    });
    expect(schemas['demo.v1.Book.Note'].properties.rawBytes.format).toBe('byte');
  });

  it('names further bindings apart, documents a field body, and refuses a route bound twice', () => {
    const doc = documentOf(`${HEADER}
service Notes {
  rpc Put(PutRequest) returns (PutRequest) {
    option (google.api.http) = {
      put: "/v1/notes/{id}" body: "note"
      additional_bindings { post: "/v1/notes" body: "*" }
    };
  }
}
message Note { string text = 1; }
message PutRequest { string id = 1; Note note = 2; bool dry_run = 3; }
`);
    expect(validateOpenApi(doc).valid).toBe(true);
    const put = doc.paths['/v1/notes/{id}'].put;
    expect(put.operationId).toBe('Notes_Put');
    expect(put.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/demo.v1.Note',
    });
    expect(put.parameters.map((p: Json) => p.name)).toEqual(['id', 'dryRun', undefined]);
    const post = doc.paths['/v1/notes'].post;
    expect(post.operationId).toBe('Notes_Put2');
    expect(post.parameters.map((p: Json) => p.name)).toEqual([undefined]);

    expect(() =>
      documentOf(`${HEADER}
service Twice {
  rpc A(Note) returns (Note) { option (google.api.http) = { get: "/v1/x" }; }
  rpc B(Note) returns (Note) { option (google.api.http) = { get: "/v1/x" }; }
}
message Note { string text = 1; }
`),
    ).toThrow('GET /v1/x is bound twice');
  });

  it('names JSON fields as protoc does', () => {
    expect(
      ['point_count', 'a_b_c', 'already', 'x__y', 'trailing_', 'v2_id'].map(lowerCamelCase),
    ).toEqual(['pointCount', 'aBC', 'already', 'xY', 'trailing', 'v2Id']);
  });
});

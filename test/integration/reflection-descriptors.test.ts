import { existsSync } from 'node:fs';
import path from 'node:path';
import * as protobuf from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { GOOGLE_API_PROTO_DIR, PROTO_DIR } from '../../src/protocol/proto';
import { readFileDescriptorSet, SERVED_DESCRIPTOR_SET } from '../../src/grpc/reflection';
import { ReflectionClient } from '../helpers/reflection-client';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * What reflection serves must be what protoc emits (protos/descriptor_set.binpb, made by
 * `npm run gen:descriptors`): strict consumers (grpcurl ≥ 1.9 via protobuf-go, Postman,
 * protobuf C++/Python) reject protobufjs's own rebuilt descriptors. The system tier
 * (test/system/reflection-protoc.test.ts) regenerates the set with protoc and compares.
 */
const SOURCES = [
  'route_guide.proto',
  'health/v1/health.proto',
  'grpc/reflection/v1/reflection.proto',
  'grpc/reflection/v1alpha/reflection.proto',
];
/** What route_guide.proto imports, as protoc lists them (dependencies first). */
const IMPORTS = [
  'google/api/http.proto',
  'google/protobuf/descriptor.proto',
  'google/api/annotations.proto',
];
const INCLUDE_DIRS = [
  PROTO_DIR,
  GOOGLE_API_PROTO_DIR,
  path.resolve(path.dirname(HEALTH_PROTO_PATH), '..', '..'),
  path.resolve(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto'),
];

type File = descriptor.IFileDescriptorProto;
type Message = descriptor.IDescriptorProto;

function decodeFiles(serialized: readonly Uint8Array[]): File[] {
  return serialized.map((bytes) => descriptor.FileDescriptorProto.decode(bytes) as unknown as File);
}

/** protoc's rule for a map field's implicit entry type: `foo_bar` → `FooBarEntry`. */
function mapEntryName(field: string): string {
  return `${field.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase())}Entry`;
}

/** Every message of a file, nested ones included, with its fully qualified name. */
function messages(file: File): { fullName: string; message: Message }[] {
  const out: { fullName: string; message: Message }[] = [];
  const walk = (scope: string, list: Message[] | null | undefined): void => {
    for (const message of list ?? []) {
      const fullName = `${scope}.${message.name}`;
      out.push({ fullName, message });
      walk(fullName, message.nestedType);
    }
  };
  walk(file.package ? `.${file.package}` : '', file.messageType);
  return out;
}

/** Map entry types (`options.map_entry`) of the committed set, by full name. */
let mapEntries = new Set<string>();

// (protobufjs's fromDescriptor copies map_entry onto the parent type's options too, so the
// descriptors themselves say which types are map entries.)
function isMapEntry(type: protobuf.Type): boolean {
  return mapEntries.has(type.fullName);
}

/** A protobufjs Root reduced to what a schema means: messages, fields, enums, services. */
function schema(root: protobuf.Root): unknown {
  root.resolveAll();
  const out: Record<string, unknown> = {};
  const walk = (namespace: protobuf.NamespaceBase): void => {
    for (const nested of namespace.nestedArray) {
      // The well-known descriptor.proto is protoc's (protobufjs parses its own rewrite of it).
      if (nested.fullName === '.google.protobuf') continue;
      if (nested instanceof protobuf.Type) {
        if (isMapEntry(nested)) continue; // folded into its map field below
        out[nested.fullName] = nested.fieldsArray
          .map((f) => {
            const entry = f.resolvedType;
            if (entry instanceof protobuf.Type && isMapEntry(entry)) {
              // What protoc writes for `map<K, V> f`: repeated FEntry {K key = 1; V value = 2;}.
              const value = entry.fields['value']!;
              return {
                name: f.name,
                id: f.id,
                type: value.resolvedType ? value.resolvedType.fullName : value.type,
                rule: 'map',
                keyType: entry.fields['key']!.type,
                oneof: undefined,
              };
            }
            return {
              name: f.name,
              id: f.id,
              type: f.resolvedType ? f.resolvedType.fullName : f.type,
              rule: f.repeated ? 'repeated' : f.map ? 'map' : 'single',
              keyType: f instanceof protobuf.MapField ? f.keyType : undefined,
              oneof: f.partOf?.name,
            };
          })
          .sort((a, b) => a.id - b.id);
      } else if (nested instanceof protobuf.Enum) {
        out[nested.fullName] = { ...nested.values };
      } else if (nested instanceof protobuf.Service) {
        out[nested.fullName] = nested.methodsArray.map((m) => ({
          name: m.name,
          request: m.resolvedRequestType!.fullName,
          response: m.resolvedResponseType!.fullName,
          requestStream: Boolean(m.requestStream),
          responseStream: Boolean(m.responseStream),
        }));
      }
      if (nested instanceof protobuf.Type && isMapEntry(nested)) continue;
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(root);
  return out;
}

describe('the descriptors reflection serves', () => {
  const committed = decodeFiles(readFileDescriptorSet(SERVED_DESCRIPTOR_SET));
  mapEntries = new Set(
    committed.flatMap((file) =>
      messages(file)
        .filter(({ message }) => message.options?.mapEntry)
        .map(({ fullName }) => fullName),
    ),
  );

  it('describe exactly the .proto sources (regenerate with npm run gen:descriptors if not)', () => {
    const sources = new protobuf.Root();
    sources.resolvePath = (_origin, target) =>
      INCLUDE_DIRS.map((dir) => path.join(dir, target)).find((file) => existsSync(file)) ?? target;
    sources.loadSync(SOURCES, { keepCase: true });
    const fromDescriptors = (
      protobuf.Root as unknown as { fromDescriptor(set: object): protobuf.Root }
    ).fromDescriptor({ file: committed });
    expect(schema(fromDescriptors)).toEqual(schema(sources));
  });

  it('are named as protoc names them: files by import path, map entries by the field', () => {
    expect(committed.map((f) => f.name)).toEqual([...IMPORTS, ...SOURCES]);
    expect(committed.map((f) => [f.package, f.syntax || 'proto2'])).toEqual([
      ['google.api', 'proto3'],
      ['google.protobuf', 'proto2'],
      ['google.api', 'proto3'],
      ['routeguide', 'proto3'],
      ['grpc.health.v1', 'proto3'],
      ['grpc.reflection.v1', 'proto3'],
      ['grpc.reflection.v1alpha', 'proto3'],
    ]);
    let maps = 0;
    for (const file of committed) {
      for (const { fullName, message } of messages(file)) {
        for (const field of message.field ?? []) {
          // Every reference is fully qualified, as protoc writes it.
          if (field.typeName) expect(field.typeName).toMatch(/^\./);
          expect(field.jsonName).toBe(
            field.name!.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
          );
          const entry = message.nestedType?.find(
            (nested) => `${fullName}.${nested.name}` === field.typeName,
          );
          if (entry?.options?.mapEntry) {
            maps++;
            expect(entry.name).toBe(mapEntryName(field.name!));
            expect(field.label).toBe(3); // LABEL_REPEATED
          }
        }
      }
    }
    // grpc.health.v1.HealthListResponse.statuses (map<string, HealthCheckResponse>).
    expect(maps).toBe(1);
    expect(mapEntryName('statuses')).toBe('StatusesEntry');
    expect(mapEntryName('foo_bar2_baz')).toBe('FooBar2BazEntry');
    expect(committed[IMPORTS.length]!.options).toMatchObject({
      javaPackage: 'io.grpc.examples.routeguide',
      javaMultipleFiles: true,
    });
  });

  describe.each(['v1', 'v1alpha'] as const)('over reflection %s', (version) => {
    let server: TestServer;
    let reflection: ReflectionClient;

    beforeAll(async () => {
      server = await startTestServer();
      reflection = new ReflectionClient(server.address, version);
    });

    afterAll(async () => {
      reflection.close();
      await server.close();
    });

    it('are protoc’s descriptors, unchanged, for every file', async () => {
      const served = new Map<string, File>();
      for (const symbol of [
        'routeguide.RouteGuide',
        'grpc.health.v1.Health',
        'grpc.health.v1.HealthListResponse',
        `grpc.reflection.${version}.ServerReflection`,
      ]) {
        for (const file of await reflection.files({ file_containing_symbol: symbol })) {
          served.set(file.name!, file);
        }
      }
      // Imports are asked for by name, as grpcurl asks for each dependency it lacks.
      for (const name of [...IMPORTS, ...SOURCES]) {
        const [byName] = await reflection.files({ file_by_filename: name });
        served.set(name, byName!);
      }
      expect([...served.keys()].sort()).toEqual([...IMPORTS, ...SOURCES].sort());
      for (const file of committed) {
        expect(descriptor.FileDescriptorProto.toObject(served.get(file.name!) as never)).toEqual(
          descriptor.FileDescriptorProto.toObject(file as never),
        );
      }
      const health = served.get('health/v1/health.proto')!;
      const listResponse = health.messageType!.find((m) => m.name === 'HealthListResponse')!;
      expect(listResponse.nestedType!.map((m) => m.name)).toEqual(['StatusesEntry']);
      expect(listResponse.field![0]!.typeName).toBe(
        '.grpc.health.v1.HealthListResponse.StatusesEntry',
      );
    });
  });
});

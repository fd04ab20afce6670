import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { PROTO_DIR } from '../protocol/proto';

/**
 * The `FileDescriptorSet` reflection serves: route_guide.proto, health/v1/health.proto and the
 * two reflection.proto files, compiled by protoc (`npm run gen:descriptors`). Serving protoc's
 * own output, rather than descriptors protobufjs rebuilds from the .proto files, is what strict
 * consumers need: protobufjs names map entry types after the field (`Statuses`, not
 * `StatusesEntry`), renames files after their package (`grpc_health_v1.proto`), uses relative
 * type names and drops json_name and file options, and grpcurl ≥ 1.9 (protobuf-go's protodesc),
 * Postman and protobuf's C++/Python DescriptorPool refuse the first of these outright.
 * test/integration/reflection-descriptors.test.ts checks the file still matches the sources.
 */
export const SERVED_DESCRIPTOR_SET = path.join(PROTO_DIR, 'descriptor_set.binpb');

/** Reads a base-128 varint at `offset`; returns it and the offset after it. */
function varint(bytes: Buffer, offset: number): [value: number, next: number] {
  let value = 0;
  for (let shift = 0, at = offset; at < bytes.length && shift < 35; shift += 7, at++) {
    const byte = bytes[at]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at + 1];
  }
  throw new Error('descriptor set: truncated or oversized varint');
}

/**
 * The serialized FileDescriptorProtos of a FileDescriptorSet (`repeated FileDescriptorProto
 * file = 1;`, its only field), byte for byte as stored.
 */
export function readFileDescriptorSet(file: string = SERVED_DESCRIPTOR_SET): Buffer[] {
  const bytes = readFileSync(file);
  const files: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const [tag, afterTag] = varint(bytes, offset);
    const [length, start] = varint(bytes, afterTag);
    if (tag !== ((1 << 3) | 2) || start + length > bytes.length) {
      throw new Error(`${file} is not a FileDescriptorSet`);
    }
    files.push(bytes.subarray(start, start + length));
    offset = start + length;
  }
  return files;
}

/**
 * The served files in the shape @grpc/reflection indexes (it reads only each entry's
 * `fileDescriptorProtos`), so it serves them unchanged.
 */
export function servedPackageDefinition(
  file: string = SERVED_DESCRIPTOR_SET,
): protoLoader.PackageDefinition {
  const fileDescriptorProtos = readFileDescriptorSet(file);
  const unused = (): never => {
    throw new Error('descriptor-only package definition: not for (de)serializing messages');
  };
  return {
    '': {
      format: 'Protocol Buffer 3 DescriptorProto',
      type: {},
      fileDescriptorProtos,
      serialize: unused,
      deserialize: unused,
    },
  };
}

/** The reflection services {@link ServerReflection} serves. */
export const REFLECTION_SERVICE_NAMES: readonly string[] = Object.freeze([
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
]);

/** grpc.reflection v1 and v1alpha over {@link servedPackageDefinition}. */
export class ServerReflection {
  private readonly service = new ReflectionService(servedPackageDefinition());

  addToServer(server: grpc.Server): void {
    this.service.addToServer(server);
  }
}

import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { PROTO_DIR, PROTO_LOADER_OPTIONS } from './proto';

/** Where the two libraries keep their .proto files, as include roots. */
const HEALTH_PROTO_ROOT = path.resolve(path.dirname(HEALTH_PROTO_PATH), '..', '..');
const REFLECTION_PROTO_ROOT = path.resolve(
  path.dirname(require.resolve('@grpc/reflection')),
  '..',
  'proto',
);

/** Every .proto the server serves, relative to an include root, so file names stay short. */
const SERVED_PROTOS = [
  'route_guide.proto',
  'health/v1/health.proto',
  'grpc/reflection/v1/reflection.proto',
  'grpc/reflection/v1alpha/reflection.proto',
];

/**
 * One package definition covering every service on the server — RouteGuide, Health and the
 * reflection services themselves — so clients such as grpcurl need no `-proto` flag.
 * (@grpc/reflection only describes what it is given: passing just route_guide.proto would
 * leave Health and ServerReflection out of `list`.)
 */
export function servedPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(SERVED_PROTOS, {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [PROTO_DIR, HEALTH_PROTO_ROOT, REFLECTION_PROTO_ROOT],
  });
}

/** grpc.reflection v1 and v1alpha over {@link servedPackageDefinition}. */
export class ServerReflection {
  private readonly service = new ReflectionService(servedPackageDefinition());

  addToServer(server: grpc.Server): void {
    this.service.addToServer(server);
  }
}

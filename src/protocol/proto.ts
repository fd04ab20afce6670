import { existsSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import type { ProtoGrpcType } from '../generated/route_guide';

/** Directory holding the .proto files (protos/ beside src/ and dist/). */
export const PROTO_DIR = path.resolve(__dirname, '..', '..', 'protos');
export const ROUTE_GUIDE_PROTO = path.join(PROTO_DIR, 'route_guide.proto');
/**
 * Where `google/api/annotations.proto` and `http.proto` (the `google.api.http` options that give
 * the REST gateway its routes) come from: the googleapis definitions as protobufjs ships them,
 * protobufjs being the parser @grpc/proto-loader itself runs on.
 */
export const GOOGLE_API_PROTO_DIR = path.dirname(require.resolve('protobufjs/package.json'));

/**
 * The one set of proto-loader options used everywhere (server, client, tests, and the
 * `gen:types` script, whose flags mirror it) so generated types match runtime objects:
 * snake_case field names as in the .proto, and absent message fields as `null`.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR, GOOGLE_API_PROTO_DIR],
});

export const ROUTE_GUIDE_SERVICE_NAME = 'routeguide.RouteGuide';

/** Loads route_guide.proto; returns the package definition and its typed gRPC object. */
export function loadRouteGuideProto(): {
  packageDefinition: protoLoader.PackageDefinition;
  proto: ProtoGrpcType;
} {
  const packageDefinition = protoLoader.loadSync(ROUTE_GUIDE_PROTO, PROTO_LOADER_OPTIONS);
  const proto = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;
  return { packageDefinition, proto };
}

/**
 * route_guide.proto as a protobufjs Root (messages to encode and decode by hand), its imports
 * found where {@link PROTO_LOADER_OPTIONS} finds them. `protosDir` defaults to {@link PROTO_DIR}.
 */
export function loadRouteGuideRoot(protosDir: string = PROTO_DIR): protobuf.Root {
  const root = new protobuf.Root();
  const dirs = [protosDir, GOOGLE_API_PROTO_DIR];
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    const found = dirs.map((dir) => path.join(dir, target)).find((file) => existsSync(file));
    return found ?? protobuf.util.path.resolve(origin, target);
  };
  return root.loadSync(path.join(protosDir, 'route_guide.proto'), { keepCase: true });
}

/** A serving status as grpc.health.v1 reports it. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The grpc.health.v1.Health client's Check, typed (the package ships no generated client). */
export interface HealthClient extends grpc.Client {
  Check(
    request: { service: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<{ status: HealthStatus }>,
  ): grpc.ClientUnaryCall;
}

/**
 * The grpc.health.v1.Health client class, from the health.proto that grpc-health-check (the
 * server side) ships, loaded with the shared options.
 */
export function loadHealthClientConstructor(): new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => HealthClient {
  const definition = protoLoader.loadSync(HEALTH_PROTO_PATH, PROTO_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return loaded.grpc.health.v1.Health as unknown as ReturnType<typeof loadHealthClientConstructor>;
}

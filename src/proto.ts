import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/route_guide';

/** Directory holding the .proto files (protos/ beside src/ and dist/). */
export const PROTO_DIR = path.resolve(__dirname, '..', 'protos');
export const ROUTE_GUIDE_PROTO = path.join(PROTO_DIR, 'route_guide.proto');

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
  includeDirs: [PROTO_DIR],
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

import { execFile } from 'node:child_process';

import { promisify } from 'node:util';
import { GOOGLE_API_PROTO_DIR, PROTO_DIR } from '../../src/protocol/proto';
import { PROGRAMS } from './system-programs';

const run = promisify(execFile);

/** Debian's interpreter, which has python3-grpcio and python3-grpc-tools (installed by .ci/run). */
export const PYTHON = PROGRAMS.python3Grpcio.probe[0];

/** What route_guide.proto imports beyond protoc's well-known types: the google.api.http options. */
const GOOGLE_API_FILES = ['google/api/http.proto', 'google/api/annotations.proto'];

/**
 * Generates Python modules (and gRPC stubs) for route_guide.proto and the given extra files into
 * `outDir`, the way a user of an annotated proto does: `google/api/*_pb2` beside them (Debian has
 * no googleapis-common-protos), protoc's well-known types searched before protobufjs's copies.
 */
export async function generatePythonStubs(
  outDir: string,
  extra: { readonly includeDirs?: readonly string[]; readonly files?: readonly string[] } = {},
): Promise<void> {
  const wellKnown = (
    await run(PYTHON, [
      '-c',
      'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))',
    ])
  ).stdout.trim();
  const includes = [PROTO_DIR, wellKnown, GOOGLE_API_PROTO_DIR, ...(extra.includeDirs ?? [])];
  await run(PYTHON, [
    ...['-m', 'grpc_tools.protoc', ...includes.map((dir) => `-I${dir}`)],
    ...[`--python_out=${outDir}`, `--grpc_python_out=${outDir}`],
    'route_guide.proto',
    ...GOOGLE_API_FILES,
    ...(extra.files ?? []),
  ]);
}

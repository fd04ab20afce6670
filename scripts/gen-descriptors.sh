#!/usr/bin/env bash
# Regenerates protos/descriptor_set.binpb: what gRPC reflection serves, exactly as protoc emits it
# (protoc from python3-grpc-tools). Run after editing route_guide.proto or upgrading
# grpc-health-check / @grpc/reflection; test/integration/reflection-descriptors.test.ts fails
# when the file no longer matches the .proto sources.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import grpc_tools' 2>/dev/null; then PYTHON="$candidate"; break; fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "gen:descriptors: needs python3 with grpc_tools (Debian: apt-get install python3-grpc-tools)" >&2
  exit 1
fi
HEALTH_ROOT="$(node -p "require('path').resolve(require('path').dirname(require('grpc-health-check').protoPath), '..', '..')")"
# google/api/{annotations,http}.proto from protobufjs (as src/protocol/proto.ts loads them); the
# well-known google/protobuf/*.proto from protoc's own include directory, listed first.
GOOGLE_API_ROOT="$(node -p "require('path').dirname(require.resolve('protobufjs/package.json'))")"
WELL_KNOWN_ROOT="$("$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
REFLECTION_ROOT="$(node -p "require('path').resolve(require('path').dirname(require.resolve('@grpc/reflection')), '..', 'proto')")"
"$PYTHON" -m grpc_tools.protoc \
  -Iprotos -I"$WELL_KNOWN_ROOT" -I"$GOOGLE_API_ROOT" -I"$HEALTH_ROOT" -I"$REFLECTION_ROOT" \
  --include_imports --descriptor_set_out=protos/descriptor_set.binpb \
  route_guide.proto health/v1/health.proto \
  grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto
echo "wrote protos/descriptor_set.binpb"

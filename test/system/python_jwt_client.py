"""Independent peer with a bearer token: Debian's python3-grpcio (C core) calls RouteGuide.

Usage: python_jwt_client.py STUBS_DIR ADDRESS READ_TOKEN WRITE_TOKEN
The read token carries routeguide.read, the write token routeguide.write. Prints one JSON object
per check; exits non-zero on the first mismatch.
"""
import json
import sys

stubs_dir, address, read_token, write_token = sys.argv[1:5]
sys.path.insert(0, stubs_dir)

import grpc  # noqa: E402
import route_guide_pb2 as pb  # noqa: E402
import route_guide_pb2_grpc as pb_grpc  # noqa: E402

POINT = pb.Point(latitude=409146138, longitude=-746188906)


def check(name, got, expected):
    ok = got == expected
    print(json.dumps({"check": name, "ok": ok, "got": got, "expected": expected}), flush=True)
    if not ok:
        sys.exit(1)


def code_of(call):
    try:
        call()
        return "OK"
    except grpc.RpcError as error:
        return error.code().name


def bearer(token):
    return [("authorization", f"Bearer {token}")]


with grpc.insecure_channel(address) as channel:
    stub = pb_grpc.RouteGuideStub(channel)
    check("no token", code_of(lambda: stub.GetFeature(POINT, timeout=10)), "UNAUTHENTICATED")
    got = stub.GetFeature(POINT, metadata=bearer(read_token), timeout=10)
    check("GetFeature with metadata", got.name, "Berkshire Valley Management Area Trail, Jefferson, NJ, USA")
    check(
        "RecordRoute with the read token",
        code_of(lambda: stub.RecordRoute(iter([POINT]), metadata=bearer(read_token), timeout=10)),
        "PERMISSION_DENIED",
    )
    summary = stub.RecordRoute(iter([POINT]), metadata=bearer(write_token), timeout=10)
    check("RecordRoute with the write token", summary.point_count, 1)
    check(
        "a tampered token",
        code_of(lambda: stub.GetFeature(POINT, metadata=bearer(read_token[:-4] + "AAAA"), timeout=10)),
        "UNAUTHENTICATED",
    )

# grpc's own token call credentials; they need a secure channel, and local credentials count as
# one on loopback while the bytes stay plaintext.
credentials = grpc.composite_channel_credentials(
    grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP),
    grpc.access_token_call_credentials(read_token),
)
with grpc.secure_channel(address, credentials) as channel:
    stub = pb_grpc.RouteGuideStub(channel)
    got = stub.GetFeature(POINT, timeout=10)
    check("GetFeature with access_token_call_credentials", got.location.latitude, 409146138)

print(json.dumps({"done": True}), flush=True)

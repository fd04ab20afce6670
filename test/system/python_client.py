"""Independent peer: Debian's python3-grpcio calls every RouteGuide RPC and checks the answers.

Usage: python_client.py STUBS_DIR ADDRESS CANONICAL_JSON
Prints one JSON object per check; exits non-zero on the first mismatch.
"""
import json
import sys

stubs_dir, address, canonical_file = sys.argv[1:4]
sys.path.insert(0, stubs_dir)

import grpc  # noqa: E402
import route_guide_pb2 as pb  # noqa: E402
import route_guide_pb2_grpc as pb_grpc  # noqa: E402


def check(name, got, expected):
    ok = got == expected
    print(json.dumps({"check": name, "ok": ok, "got": got, "expected": expected}), flush=True)
    if not ok:
        sys.exit(1)


def feature_dict(f):
    return {"name": f.name, "location": {"latitude": f.location.latitude, "longitude": f.location.longitude}}


with open(canonical_file) as fh:
    features = json.load(fh)

with grpc.insecure_channel(address) as channel:
    grpc.channel_ready_future(channel).result(timeout=10)
    stub = pb_grpc.RouteGuideStub(channel)

    got = stub.GetFeature(pb.Point(latitude=409146138, longitude=-746188906), timeout=10)
    check("GetFeature hit", feature_dict(got), {
        "name": "Berkshire Valley Management Area Trail, Jefferson, NJ, USA",
        "location": {"latitude": 409146138, "longitude": -746188906},
    })
    got = stub.GetFeature(pb.Point(latitude=0, longitude=0), timeout=10)
    check("GetFeature miss", feature_dict(got), {"name": "", "location": {"latitude": 0, "longitude": 0}})

    try:
        stub.GetFeature(pb.Point(latitude=900000001, longitude=0), timeout=10)
        check("GetFeature invalid", "OK", "INVALID_ARGUMENT")
    except grpc.RpcError as error:
        check("GetFeature invalid", error.code().name, "INVALID_ARGUMENT")

    rect = pb.Rectangle(
        lo=pb.Point(latitude=400000000, longitude=-750000000),
        hi=pb.Point(latitude=420000000, longitude=-730000000),
    )
    listed = [feature_dict(f) for f in stub.ListFeatures(rect, timeout=10)]
    check("ListFeatures count", len(listed), 100)
    check("ListFeatures order and content", listed, features)

    summary = stub.RecordRoute(iter([pb.Point(**f["location"]) for f in features[:5]]), timeout=10)
    check(
        "RecordRoute",
        [summary.point_count, summary.feature_count, summary.distance, summary.elapsed_time],
        [5, 5, 266396, 0],
    )

    here = pb.Point(latitude=1, longitude=2)
    there = pb.Point(latitude=3, longitude=4)
    notes = [
        pb.RouteNote(location=here, message="python 1"),
        pb.RouteNote(location=there, message="python 2"),
        pb.RouteNote(location=here, message="python 3"),
        pb.RouteNote(location=here, message="python 4"),
    ]
    replies = [
        [n.location.latitude, n.location.longitude, n.message] for n in stub.RouteChat(iter(notes), timeout=10)
    ]
    check("RouteChat", replies, [[1, 2, "python 1"], [1, 2, "python 1"], [1, 2, "python 3"]])

print(json.dumps({"done": True}), flush=True)

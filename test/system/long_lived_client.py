"""Holds a RouteChat and a health Watch open past connection-age rebalancing, with C-core.

Usage: long_lived_client.py STUBS_DIR ADDRESS HOLD_SECONDS
Prints one JSON line: what each stream saw and how it ended.
"""

import json
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import route_guide_pb2  # noqa: E402
import route_guide_pb2_grpc  # noqa: E402
from health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

address, hold = sys.argv[2], float(sys.argv[3])
channel = grpc.insecure_channel(address)
started = time.monotonic()
result = {}


def watch():
    stub = health_pb2_grpc.HealthStub(channel)
    call = stub.Watch(health_pb2.HealthCheckRequest(service="routeguide.RouteGuide"))
    statuses = []
    timer = threading.Timer(hold, call.cancel)
    timer.start()
    try:
        for response in call:
            statuses.append(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
        result["watch"] = {"statuses": statuses, "ended": "OK"}
    except grpc.RpcError as error:
        # Cancelled by us after HOLD seconds is the expected end; anything else is a failure.
        result["watch"] = {"statuses": statuses, "ended": error.code().name,
                           "details": error.details(), "seconds": time.monotonic() - started}


def notes(sent):
    while time.monotonic() - started < hold:
        note = route_guide_pb2.RouteNote(
            location=route_guide_pb2.Point(latitude=7, longitude=7), message=f"note {sent[0]}")
        sent[0] += 1
        yield note
        time.sleep(5)


def chat():
    stub = route_guide_pb2_grpc.RouteGuideStub(channel)
    sent = [0]
    received = 0
    try:
        for _ in stub.RouteChat(notes(sent)):
            received += 1
        result["chat"] = {"ended": "OK", "sent": sent[0], "received": received,
                          "seconds": time.monotonic() - started}
    except grpc.RpcError as error:
        result["chat"] = {"ended": error.code().name, "details": error.details(), "sent": sent[0],
                          "received": received, "seconds": time.monotonic() - started}


threads = [threading.Thread(target=watch), threading.Thread(target=chat)]
for t in threads:
    t.start()
for t in threads:
    t.join()
# A new call after the streams: goes to a new connection (the old one has aged out).
feature = route_guide_pb2_grpc.RouteGuideStub(channel).GetFeature(
    route_guide_pb2.Point(latitude=409146138, longitude=-746188906), timeout=10)
result["getFeature"] = feature.name
channel.close()
print(json.dumps(result))

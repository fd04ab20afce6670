"""Independent WebSocket peer: Debian's python3-websocket (websocket-client) runs RouteChat.

Usage: websocket_chat_peer.py < JOB_JSON
JOB_JSON is {"sessions": [{"url", "headers", "messages", "half_close"}, ...]}: for each session
it opens the WebSocket (ws://, the given extra headers), sends each message as one text message
(an object as its JSON, a string as is), then an empty text message when half_close is set, and
reads every message until the server's close frame.
Prints one JSON line per session: {"received": [parsed messages], "close": {"code", "reason"}}.
"""
import json
import struct
import sys

import websocket

TIMEOUT_S = 20


def run_session(session):
    ws = websocket.create_connection(
        session["url"], header=session.get("headers", []), timeout=TIMEOUT_S
    )
    try:
        for message in session["messages"]:
            ws.send(message if isinstance(message, str) else json.dumps(message))
        if session.get("half_close", True):
            ws.send("")
        received = []
        while True:
            opcode, frame = ws.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                received.append(json.loads(frame.data.decode("utf-8")))
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data or b""
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                reason = data[2:].decode("utf-8")
                return {"received": received, "close": {"code": code, "reason": reason}}
            else:
                raise RuntimeError(f"unexpected opcode {opcode}")
    finally:
        ws.shutdown()


def main():
    job = json.load(sys.stdin)
    for session in job["sessions"]:
        print(json.dumps(run_session(session)), flush=True)


main()

"""A fake Africa's Talking messaging endpoint for benchmarks: accepts every SMS after a delay.

    python -m bench.fake_gateway --port 8765 --delay 2

Loopback only. ``GET /stats`` answers ``{"sent": <messages accepted so far>}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

_counter = itertools.count(1)
_lock = threading.Lock()
_sent = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0

    def do_POST(self) -> None:
        global _sent
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        time.sleep(self.delay)
        number = form.get("to", "+254700000000")
        message_id = f"ATXid_bench{next(_counter)}"
        self._answer(201, {"SMSMessageData": {
            "Message": "Sent to 1/1 Total Cost: KES 0.8000",
            "Recipients": [{"statusCode": 101, "number": number, "status": "Success",
                            "cost": "KES 0.8000", "messageId": message_id}]}})
        with _lock:
            _sent += 1

    def do_GET(self) -> None:
        self._answer(200, {"sent": _sent})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    options = parser.parse_args()
    Handler.delay = options.delay
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()

"""The HTTP server the fake providers run on: threaded, on a free loopback port."""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """Serves ``handler`` on 127.0.0.1; handlers reach their fake as ``self.server.fake``."""

    def __init__(self, fake: Any, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: object) -> None:
        # A client that timed out has closed its end, so writing the late answer fails.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

"""A fake Africa's Talking messaging endpoint for benchmarks: accepts every SMS after a delay.

    python -m bench.fake_gateway --port 8765 --delay 0.15

Loopback only. ``GET /stats`` answers ``{"sent": <messages accepted so far>}``. One event
loop and a bare HTTP/1.1 parser (keep-alive, Content-Length bodies), so that its own
ceiling, thousands of answers a second on one core, sits far above what is measured through
it; a delay holds no thread, so any number of connections can wait on it at once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json

_ANSWER = ('{"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000", "Recipients": '
           '[{"statusCode": 101, "number": "+254700000000", "status": "Success", '
           '"cost": "KES 0.8000", "messageId": "ATXid_bench%d"}]}}')


class Gateway(asyncio.Protocol):
    sent = 0
    _ids = itertools.count(1)

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end].decode("latin-1")
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")[1:]
                           if line.lower().startswith("content-length:")), 0)
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length:]
            if head.startswith("GET"):
                self._write(200, json.dumps({"sent": Gateway.sent}).encode())
            elif self._delay:
                asyncio.get_running_loop().call_later(self._delay, self._accept)
            else:
                self._accept()

    def _accept(self) -> None:
        Gateway.sent += 1
        self._write(201, (_ANSWER % next(Gateway._ids)).encode())

    def _write(self, status: int, body: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        reason = "Created" if status == 201 else "OK"
        self._transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n%s"
                              % (status, reason.encode(), len(body), body))


async def serve(port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Gateway(delay), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    options = parser.parse_args()
    asyncio.run(serve(options.port, options.delay))


if __name__ == "__main__":
    main()

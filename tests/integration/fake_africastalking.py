"""A fake Africa's Talking messaging endpoint on loopback, answering from a script.

    with FakeAfricasTalking(Answer(201, accepted("ATXid_1"))) as fake:
        gateway = AfricasTalkingSmsGateway("sandbox", "key", base_url=fake.base_url)
        gateway.send("+254719485369", "Hi")
    fake.requests[0].form["to"]  # "+254719485369"
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Self, cast
from urllib.parse import parse_qsl

from tests.integration.loopback import LoopbackServer


@dataclass(frozen=True)
class Answer:
    """What the fake answers to one request, after ``delay`` seconds.

    With ``trickle``, the body goes out one byte every ``trickle`` seconds, and so do the
    status line and headers with ``trickle_headers``. Without ``sized`` the answer carries no
    Content-Length and its end is the connection's, as from an HTTP/1.0 server. ``headers``
    are sent besides Content-Type and Content-Length (such as Retry-After).
    """

    status: int = 201
    body: str = ""
    content_type: str = "application/json"
    delay: float = 0.0
    trickle: float = 0.0
    trickle_headers: bool = False
    sized: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    """One request exactly as received.

    ``headers`` keep the names as the client sent them; ``client_port`` tells the client's
    connections apart, to see them reused.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: str
    client_port: int

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body, keep_blank_values=True, strict_parsing=True))


def accepted(message_id: str, *, number: str = "+254719485369", cost: str = "KES 0.8000"
             ) -> str:
    """The body of a 201 for one recipient the gateway took."""
    return _answer_body("Sent to 1/1 Total Cost: " + cost, {
        "statusCode": 101, "number": number, "status": "Success", "cost": cost,
        "messageId": message_id,
    })


def refused(status_code: int, status: str, *, number: str = "+254719485369") -> str:
    """The body of an answer for one recipient the gateway would not take."""
    return _answer_body("Sent to 0/1 Total Cost: 0", {
        "statusCode": status_code, "number": number, "status": status, "cost": "0",
        "messageId": "None",
    })


def _answer_body(message: str, recipient: dict[str, object]) -> str:
    return json.dumps({"SMSMessageData": {"Message": message, "Recipients": [recipient]}})


def accept_all(*, delay: float = 0.0) -> Callable[[RecordedRequest], Answer]:
    """An ``otherwise`` that takes every message, each with its own message id."""
    ids = itertools.count(1)

    def answer(request: RecordedRequest) -> Answer:
        return Answer(201, accepted(f"ATXid_{next(ids)}", number=request.form.get("to", "")),
                      delay=delay)

    return answer


UNSCRIPTED = Answer(599, "fake Africa's Talking: no answer scripted", "text/plain")


class FakeAfricasTalking:
    """Records every request and answers each with the next scripted ``Answer``."""

    def __init__(self, *answers: Answer,
                 otherwise: Callable[[RecordedRequest], Answer] | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        self._answers = deque(answers)
        self._otherwise = otherwise
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = LoopbackServer(self, _Handler)
        # A short poll interval lets shutdown() return at once rather than in half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *answers: Answer) -> None:
        """Queue more answers after those already scripted."""
        self._answers.extend(answers)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self._answers:
                return self._answers.popleft()
        return self._otherwise(request) if self._otherwise else UNSCRIPTED

    def texts_to(self, number: str) -> list[str]:
        return [r.form["message"] for r in self.requests if r.form.get("to") == number]

    def _wait(self, seconds: float) -> None:
        # Woken by __exit__, so a delayed answer never holds a test up.
        self._closing.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised
    # Headers and body go out in two writes; with Nagle on, the body would wait for the
    # client's delayed ACK (40 ms), which would be the fake's latency, not the gateway's.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        fake = cast(LoopbackServer, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        answer = fake._answer(RecordedRequest(
            method=self.command, path=self.path, headers=dict(self.headers.items()), body=body,
            client_port=self.client_address[1],
        ))
        fake._wait(answer.delay)
        payload = answer.body.encode()
        end = ("Content-Length", str(len(payload))) if answer.sized else ("Connection", "close")
        headers = [("Content-Type", answer.content_type), end, *answer.headers.items()]
        self.close_connection = not answer.sized
        if answer.trickle_headers:
            reason = self.responses.get(answer.status, ("",))[0]
            head = f"HTTP/1.1 {answer.status} {reason}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
            self._trickle(fake, head.encode() + payload, answer.trickle)
            return
        self.send_response(answer.status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if answer.trickle:
            self._trickle(fake, payload, answer.trickle)
        else:
            self.wfile.write(payload)

    def _trickle(self, fake: FakeAfricasTalking, data: bytes, seconds: float) -> None:
        for at in range(len(data)):
            if fake._closing.is_set():
                return
            self.wfile.write(data[at:at + 1])
            fake._wait(seconds)

    def log_message(self, format: str, *args: object) -> None:
        pass

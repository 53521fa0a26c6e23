"""Africa's Talking SMS over its REST messaging API, with plain ``requests``."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import HTTPResponse

from app.services.sms import (
    PermanentFailure,
    SendOutcome,
    Sent,
    SmsGateway,
    TransientFailure,
)

LIVE_HOST = "https://api.africastalking.com"
SANDBOX_HOST = "https://api.sandbox.africastalking.com"
MESSAGING_PATH = "/version1/messaging"

# Per-recipient statusCode, with the name Africa's Talking gives it.
ACCEPTED = {100: "Processed", 101: "Sent", 102: "Queued"}
WORTH_RETRYING = {500: "InternalServerError", 501: "GatewayError", 405: "InsufficientBalance"}
REFUSED = {
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    502: "RejectedByGateway",
}

# Well inside the outbox worker's claim on a message (5 minutes by default), so a send always
# ends, and is recorded, before another worker may take the message again.
SEND_DEADLINE_SECONDS = 20.0

_MAY_HAVE_GONE_OUT = "the SMS may have gone out"
_REASON_BODY_LENGTH = 100


def messaging_url(username: str, base_url: str | None = None) -> str:
    """The send endpoint: the sandbox for the ``sandbox`` user, else live; ``base_url`` wins."""
    host = base_url or (SANDBOX_HOST if username == "sandbox" else LIVE_HOST)
    return host.rstrip("/") + MESSAGING_PATH


def pooled_session(pool_size: int = 10) -> requests.Session:
    """A session keeping up to ``pool_size`` connections open, for concurrent sends.

    Its connections keep to the deadline of the send using them (see ``_Deadline``).
    """
    # No retries at this level: a send is not idempotent, and the outbox decides on retries.
    adapter = _DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class AfricasTalkingSmsGateway(SmsGateway):
    """Sends through Africa's Talking, one recipient per request.

    Each send ends within ``send_deadline`` seconds, however slowly the answer comes, when
    ``session`` is one of ``pooled_session`` (the default).
    """

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        sender_id: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10,
        send_deadline: float = SEND_DEADLINE_SECONDS,
        session: requests.Session | None = None,
        pool_size: int = 10,
    ) -> None:
        self._url = messaging_url(username, base_url)
        self._username = username
        self._api_key = api_key
        self._sender_id = sender_id
        self._timeout = (connect_timeout, read_timeout)
        self._send_deadline = send_deadline
        self._session = session or pooled_session(pool_size)

    def send(self, to: str, text: str) -> SendOutcome:
        connect_timeout, read_timeout = self._timeout
        with _Deadline(self._send_deadline) as deadline:
            left = deadline.remaining()
            try:
                response = self._session.post(
                    self._url,
                    data=self._form(to, text),
                    headers={"apiKey": self._api_key, "Accept": "application/json"},
                    timeout=(min(connect_timeout, left), min(read_timeout, left)),
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                return self._failure(error, deadline)
        if deadline.struck:  # an answer without a length ends where the socket was shut
            return _no_answer_within(self._send_deadline)
        return _without_secret(classify(response.status_code, response.text), self._api_key)

    def _failure(self, error: requests.RequestException, deadline: _Deadline) -> SendOutcome:
        if deadline.passed():
            return _no_answer_within(self._send_deadline)
        if isinstance(error, requests.ReadTimeout):
            return _no_answer_within(self._timeout[1])
        # The exception's own text is a long urllib3 chain; its class says enough.
        return TransientFailure(f"cannot reach gateway ({type(error).__name__})")

    def _form(self, to: str, text: str) -> dict[str, str]:
        # bulkSMSMode=1: the sending account pays, as for any message not sent to a premium code.
        form = {"username": self._username, "to": to, "message": text, "bulkSMSMode": "1"}
        if self._sender_id:
            form["from"] = self._sender_id
        return form


def _no_answer_within(seconds: float) -> TransientFailure:
    return TransientFailure(f"no answer from gateway within {seconds:g} s; {_MAY_HAVE_GONE_OUT}")


class _Deadline:
    """The moment the send running on this thread must end by, enforced on its connection.

    Timeouts bound each read from the socket, not the answer: a gateway sending one byte now
    and then would hold a send for as long as it liked. So once the request is out, a timer
    shuts the connection's socket at the deadline, which ends any read at once.
    """

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self._ends_at = time.monotonic() + seconds
        self._timer: threading.Timer | None = None
        self.struck = False

    @classmethod
    def of_this_thread(cls) -> _Deadline | None:
        return getattr(cls._current, "deadline", None)

    def remaining(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self._ends_at

    def enforce_on(self, sock: socket.socket) -> None:
        self._timer = threading.Timer(self.remaining(), self._strike, args=(sock,))
        self._timer.daemon = True
        self._timer.start()

    def _strike(self, sock: socket.socket) -> None:
        self.struck = True
        # The plain socket's shutdown, even under TLS: SSLSocket.shutdown would also drop its
        # TLS state under the feet of the thread reading. A connection shut just as its answer
        # came in is found closed when next taken from the pool, and replaced.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> _Deadline:
        self._current.deadline = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._current.deadline = None
        if self._timer is not None:
            self._timer.cancel()


class _DeadlineHTTPConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        _enforce_deadline(self)
        return super().getresponse()


class _DeadlineHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        _enforce_deadline(self)
        return super().getresponse()


def _enforce_deadline(connection: HTTPConnection) -> None:
    deadline = _Deadline.of_this_thread()
    if deadline is not None and connection.sock is not None:
        deadline.enforce_on(connection.sock)


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """Pools connections that keep to the deadline of the send using them."""

    _POOLS = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._POOLS
        return manager


def classify(status_code: int, body: str) -> SendOutcome:
    """What an answer of the messaging endpoint means for the one message it was sent."""
    is_success = 200 <= status_code < 300
    # Per-recipient failures come inside a 2xx, and a DND rejection as 409 with the same body.
    if is_success or status_code == 409:
        answer = _read_answer(body)
        if answer is not None:
            return _classify_answer(answer)
        if is_success:
            return _unreadable(f"HTTP {status_code}")
    return _classify_http_status(status_code, body)


@dataclass(frozen=True)
class _Recipient:
    status_code: int
    status: str
    message_id: str | None
    cost: str | None


@dataclass(frozen=True)
class _Answer:
    message: str
    first_recipient: _Recipient | None


def _read_answer(body: str) -> _Answer | None:
    """The ``SMSMessageData`` of a JSON body, or None when the body is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    data = document.get("SMSMessageData") if isinstance(document, dict) else None
    recipients = data.get("Recipients") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(recipients, list):
        return None
    message = _text(data.get("Message")) or ""
    if not recipients:
        return _Answer(message, None)
    first = _read_recipient(recipients[0])
    return None if first is None else _Answer(message, first)


def _read_recipient(raw: Any) -> _Recipient | None:
    code = raw.get("statusCode") if isinstance(raw, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    message_id = _text(raw.get("messageId"))
    return _Recipient(
        status_code=code,
        status=_text(raw.get("status")) or "",
        # A failed recipient's messageId is the string "None".
        message_id=None if message_id == "None" else message_id,
        cost=_text(raw.get("cost")),
    )


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _classify_answer(answer: _Answer) -> SendOutcome:
    recipient = answer.first_recipient
    if recipient is None:
        # Africa's Talking names the refusal there, e.g. "InvalidPhoneNumber".
        return PermanentFailure(answer.message or "gateway accepted no recipient")
    code = recipient.status_code
    if code in ACCEPTED:
        if recipient.message_id is None:
            return _unreadable(f"status {code} without a message id")
        return Sent(recipient.message_id, recipient.cost)
    known = REFUSED.get(code) or WORTH_RETRYING.get(code)
    reason = f"{recipient.status or known or 'unknown status'} ({code})"
    if code in REFUSED:
        return PermanentFailure(reason)
    if code in WORTH_RETRYING:
        return TransientFailure(reason)
    # A status added after this was written: retrying is bounded by the retry policy (at worst
    # a duplicate, if it meant accepted), while failing for good could drop a deliverable SMS.
    return TransientFailure(f"{reason}, a status this service does not know")


def _classify_http_status(status_code: int, body: str) -> SendOutcome:
    reason = f"HTTP {status_code} from gateway"
    if status_code >= 500 or status_code == 429:
        return TransientFailure(reason)
    if status_code in (401, 403):
        # Wrong username or API key: the operator can fix it, and the queued messages should
        # then go out by themselves rather than having failed for good in the meantime.
        return TransientFailure(f"{reason}: check the Africa's Talking username and API key")
    if 400 <= status_code < 500:
        excerpt = " ".join(body.split())[:_REASON_BODY_LENGTH]
        return PermanentFailure(f"{reason}: {excerpt}" if excerpt else reason)
    # 1xx or 3xx: a proxy or a wrong AT_BASE_URL, not an answer about the message.
    return TransientFailure(f"unexpected {reason}")


def _without_secret(outcome: SendOutcome, secret: str) -> SendOutcome:
    # Reasons quote the gateway's body, which might echo the API key back.
    if isinstance(outcome, Sent) or not secret or secret not in outcome.reason:
        return outcome
    return replace(outcome, reason=outcome.reason.replace(secret, "[API key]"))


def _unreadable(detail: str) -> TransientFailure:
    # Africa's Talking has no idempotency key, so retrying may send the SMS twice; the outbox
    # promises at least once, and giving up could lose a message that was never sent.
    return TransientFailure(f"unreadable answer from gateway ({detail}); {_MAY_HAVE_GONE_OUT}")

"""Africa's Talking SMS over its REST messaging API, with aiohttp's asynchronous client."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi

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
# Recipient statuses that say the gateway itself is in trouble: sending less may help it.
GATEWAY_TROUBLE = {500, 501}

# Well inside the outbox worker's claim on a message (5 minutes by default), so a send always
# ends, and is recorded, before another worker may take the message again.
SEND_DEADLINE_SECONDS = 20.0

_MAY_HAVE_GONE_OUT = "the SMS may have gone out"
_REASON_BODY_LENGTH = 100


def messaging_url(username: str, base_url: str | None = None) -> str:
    """The send endpoint: the sandbox for the ``sandbox`` user, else live; ``base_url`` wins."""
    host = base_url or (SANDBOX_HOST if username == "sandbox" else LIVE_HOST)
    return host.rstrip("/") + MESSAGING_PATH


class AfricasTalkingSmsGateway(SmsGateway):
    """Sends through Africa's Talking, one recipient per request, on up to ``pool_size``
    kept-alive HTTP/1.1 connections.

    Each send ends within ``send_deadline`` seconds, however slowly the answer comes. The
    connections belong to the event loop of the first send until ``aclose()``.
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
        pool_size: int = 10,
    ) -> None:
        self._url = messaging_url(username, base_url)
        self._username = username
        self._api_key = api_key
        self._sender_id = sender_id
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._send_deadline = send_deadline
        self._pool_size = pool_size
        # The same certificate authorities as requests, on every machine.
        self._tls = ssl.create_default_context(cafile=certifi.where())
        self._headers = {"apiKey": api_key, "Accept": "application/json",
                         "Content-Type": "application/x-www-form-urlencoded"}
        self._proxy = proxy_for(self._url)
        self._client: aiohttp.ClientSession | None = None

    async def send(self, to: str, text: str) -> SendOutcome:
        client = self._session()
        try:
            async with asyncio.timeout(self._send_deadline):
                try:
                    async with client.post(self._url, data=self._form(to, text),
                                           headers=self._headers, proxy=self._proxy,
                                           allow_redirects=False) as response:
                        body = await response.read()
                except aiohttp.ConnectionTimeoutError as error:
                    return _unreachable(error)
                except aiohttp.ServerTimeoutError:
                    return _no_answer_within(self._read_timeout)
                except (aiohttp.ClientError, OSError) as error:
                    return _unreachable(error)
        except TimeoutError:
            return _no_answer_within(self._send_deadline)
        outcome = classify(response.status, _decoded(body, response.charset))
        if isinstance(outcome, TransientFailure) and outcome.pushback:
            outcome = replace(outcome,
                              retry_after=retry_after(response.headers.get("Retry-After")))
        return _without_secret(outcome, self._api_key)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            # No retries at this level: a send is not idempotent, and the outbox decides.
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size,
                                               limit_per_host=self._pool_size, ssl=self._tls),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout,
                                              sock_read=self._read_timeout),
            )
        return self._client

    def _form(self, to: str, text: str) -> bytes:
        # bulkSMSMode=1: the sending account pays, as for any message not sent to a premium code.
        form = {"username": self._username, "to": to, "message": text, "bulkSMSMode": "1"}
        if self._sender_id:
            form["from"] = self._sender_id
        return urlencode(form).encode()


def proxy_for(url: str) -> str | None:
    """The proxy HTTPS_PROXY (or HTTP_PROXY) names for ``url``, unless NO_PROXY exempts it,
    as requests heeds them: looked up once, not at every send as aiohttp's trust_env does."""
    address = urlsplit(url)
    if proxy_bypass(address.hostname or ""):
        return None
    return getproxies().get(address.scheme)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """The seconds a Retry-After header asks for (a number or an HTTP date); None when it
    asks for nothing readable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return seconds if seconds > 0 else None


def _decoded(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _unreachable(error: BaseException) -> TransientFailure:
    # The exception's own text may be a long chain; its class says enough.
    return TransientFailure(f"cannot reach gateway ({type(error).__name__})", pushback=True)


def _no_answer_within(seconds: float) -> TransientFailure:
    return TransientFailure(f"no answer from gateway within {seconds:g} s; {_MAY_HAVE_GONE_OUT}",
                            pushback=True)


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
        return TransientFailure(reason, pushback=code in GATEWAY_TROUBLE)
    # A status added after this was written: retrying is bounded by the retry policy (at worst
    # a duplicate, if it meant accepted), while failing for good could drop a deliverable SMS.
    return TransientFailure(f"{reason}, a status this service does not know")


def _classify_http_status(status_code: int, body: str) -> SendOutcome:
    reason = f"HTTP {status_code} from gateway"
    if status_code >= 500 or status_code == 429:
        return TransientFailure(reason, pushback=True)
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

"""Callbacks from Africa's Talking. They are not signed, so a secret in the URL guards them."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re

from flask import Blueprint, Response, abort, jsonify, request

from app.config import Network
from app.domain.replies import MAX_PROVIDER_MESSAGE_ID, MAX_SENDER
from app.entrypoints.api.parsing import UnreadableBody, read_body
from app.entrypoints.dependencies import services
from app.services import outbox, replies

log = logging.getLogger(__name__)
URL_PREFIX = "/callbacks/africastalking"
blp = Blueprint("callbacks", __name__, url_prefix=URL_PREFIX)
# Whatever follows the kind of callback is the secret, or someone's guess at it.
_SECRET_IN_PATH = re.compile(rf"^({re.escape(URL_PREFIX)}/[^/]+/).*", re.DOTALL)


def path_for_logs(path: str) -> str:
    """``path`` with a callback URL's secret replaced, so that no log holds the secret."""
    return _SECRET_IN_PATH.sub(r"\1[redacted]", path)


def _check_caller(token: str) -> None:
    """A wrong token and a client outside the allowed networks are both a 404, so that a
    caller cannot tell which it lacks."""
    settings = services().settings
    expected = settings.at_callback_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        abort(404)
    if not _from_allowed_network(settings.callback_networks):
        abort(404)


def _from_allowed_network(networks: tuple[Network, ...]) -> bool:
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack socket shows IPv4 clients this way
    return any(address in network for network in networks)


def _fields() -> dict[str, str]:
    """Africa's Talking posts a form; a JSON body is read as well. Values no database column
    can hold (NUL, lone surrogates) are dropped, so such a callback is acknowledged unused."""
    if request.form:
        fields = request.form.to_dict()
    else:
        try:
            body = read_body(request)
        except UnreadableBody:
            body = None
        fields = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return {name: value for name, value in fields.items() if _storable(value)}


def _storable(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


@blp.post("/delivery-reports/<token>")
def delivery_report(token: str) -> Response:
    """Mark a sent message delivered or failed; unknown ids are acknowledged and ignored."""
    _check_caller(token)
    report = _fields()
    message_id, status = report.get("id", ""), report.get("status", "")
    if not message_id or not status:
        return _ack("ignored: a report needs id and status")
    # No message the service sent has an id longer than it can store.
    known = len(message_id) <= MAX_PROVIDER_MESSAGE_ID and outbox.record_delivery_report(
        message_id, status, report.get("failureReason"), uow=services().uow())
    if not known:
        log.info("delivery report for unknown message %s ignored", message_id)
    return _ack("recorded" if known else "ignored: unknown message")


@blp.post("/incoming-messages/<token>")
def incoming_message(token: str) -> Response:
    """A customer's text to our number: confirm an order, ask after one, or get help."""
    _check_caller(token)
    sms = _fields()
    if not sms.get("id") or not sms.get("from"):
        return _ack("ignored: a message needs id and from")
    # What cannot be stored cannot be acted on once only, nor answered.
    if len(sms["id"]) > MAX_PROVIDER_MESSAGE_ID:
        return _ack("ignored: an id longer than any the gateway gives")
    if len(sms["from"]) > MAX_SENDER:
        return _ack("ignored: not a number we know")
    outcome = replies.handle_incoming_sms(
        replies.IncomingText(provider_message_id=sms["id"], sender=sms["from"],
                             text=sms.get("text", "")),
        uow=services().uow(), clock=services().clock, limits=services().limits,
    )
    return _ack(outcome.value)


def _ack(outcome: str) -> Response:
    # Always 200: anything else makes the gateway retry a report we cannot use anyway.
    return jsonify(status="ok", outcome=outcome)

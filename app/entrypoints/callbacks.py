"""Callbacks from Africa's Talking. They are not signed, so a secret in the URL guards them."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, jsonify, request

from app.entrypoints.api.parsing import UnreadableBody, read_body
from app.entrypoints.dependencies import services
from app.services import outbox, replies

log = logging.getLogger(__name__)
blp = Blueprint("callbacks", __name__, url_prefix="/callbacks/africastalking")


def _check_token(token: str) -> None:
    expected = services().settings.at_callback_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        abort(404)


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
    _check_token(token)
    report = _fields()
    message_id, status = report.get("id", ""), report.get("status", "")
    if not message_id or not status:
        return _ack("ignored: a report needs id and status")
    known = outbox.record_delivery_report(message_id, status, report.get("failureReason"),
                                          uow=services().uow())
    if not known:
        log.info("delivery report for unknown message %s ignored", message_id)
    return _ack("recorded" if known else "ignored: unknown message")


@blp.post("/incoming-messages/<token>")
def incoming_message(token: str) -> Response:
    """A customer's text to our number: confirm an order, ask after one, or get help."""
    _check_token(token)
    sms = _fields()
    if not sms.get("id") or not sms.get("from"):
        return _ack("ignored: a message needs id and from")
    outcome = replies.handle_incoming_sms(
        replies.IncomingText(provider_message_id=sms["id"], sender=sms["from"],
                             text=sms.get("text", "")),
        uow=services().uow(), clock=services().clock, limits=services().limits,
    )
    return _ack(outcome.value)


def _ack(outcome: str) -> Response:
    # Always 200: anything else makes the gateway retry a report we cannot use anyway.
    return jsonify(status="ok", outcome=outcome)

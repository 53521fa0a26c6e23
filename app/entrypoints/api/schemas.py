"""The API's shapes, written by hand for the contract in API.md."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_dump,
    pre_load,
    validate,
    validates_schema,
)

from app.domain.orders import MAX_ITEM_LENGTH
from app.services.views import MAX_PER_PAGE, OrderDetails


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC with a ``Z``, to the second: ``2026-03-01T09:30:00Z``."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Text(fields.String):
    """A value object (email, code, phone number) written out as its string form."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value)


class StorableText(Schema):
    """Refuses text no column can hold: NUL (PostgreSQL refuses it) and lone surrogates
    (JSON's ``\\ud800`` escapes can send them; they have no UTF-8 form)."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        errors = {}
        for name in (field.data_key or key for key, field in self.load_fields.items()):
            value = data.get(name)
            if isinstance(value, str) and (reason := _unstorable(value)):
                errors[name] = [reason]
        if errors:
            raise ValidationError(errors)
        return data


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text."
    return None


class Body(StorableText):
    """Request bodies ignore fields they do not know (clients send extras, like ``api_key``)."""


class WholeNumber(fields.Integer):
    """An integer, also written as a string (``"2"``); ``1.5`` is refused, not truncated."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


# Requests ----------------------------------------------------------------------------------

class RegisterAdminIn(Body):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=8, max=1024))
    api_key = fields.String(required=True, validate=validate.Length(max=1024))
    phone_number = fields.String(load_default=None, allow_none=True)
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class LoginIn(Body):
    email = fields.String(required=True, validate=validate.Length(max=1024))
    password = fields.String(required=True, validate=validate.Length(max=1024))


class LogoutIn(Body):
    refresh_token = fields.String(load_default=None, allow_none=True)


class AddUserNumberIn(Body):
    user_id = fields.UUID(required=True)
    phone_number = fields.String(required=True)


class CreateCustomerIn(Body):
    user_id = fields.UUID(required=True)


class PageIn(Body):
    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=10_000_000))
    per_page = WholeNumber(load_default=10, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class UserListIn(PageIn):
    email = fields.String(load_default=None, validate=validate.Length(max=254),
                          metadata={"description": "Part of the email, any case"})


class OrderListIn(PageIn):
    customer_code = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None,
                           validate=validate.OneOf(["pending", "confirmed"]))


class CustomerOrdersIn(PageIn):
    customer_code = fields.String(load_default=None, validate=validate.Length(max=64))
    customer_id = fields.String(load_default=None, validate=validate.Length(max=64))

    @validates_schema
    def one_customer_reference(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("customer_code") and not data.get("customer_id"):
            raise ValidationError("Give customer_code or customer_id.", "customer_code")


class PlaceOrderIn(Body):
    customer_code = fields.String(required=True, validate=validate.Length(max=64))
    item = fields.String(required=True, validate=validate.Length(min=1, max=MAX_ITEM_LENGTH))
    amount = fields.Decimal(required=True, metadata={"example": "420.00"})
    currency = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8))


class IdempotencyKeyIn(StorableText):
    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None, validate=validate.Length(min=1, max=255),
        metadata={"description": "Repeat a creation safely: same key and body, same order"},
    )


class ConfirmOrderIn(Body):
    customer_code = fields.String(required=True, validate=validate.Length(max=64))
    order_id = fields.String(required=True, validate=validate.Length(max=64))


# Responses ---------------------------------------------------------------------------------

class TokensOut(Schema):
    user_id = fields.UUID()
    email = fields.String()
    role = fields.String()
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer(metadata={"description": "Seconds until the access token expires"})


class MessageOut(Schema):
    message = fields.String()


class UserOut(Schema):
    id = fields.UUID()
    email = fields.String()
    email_verified = fields.Boolean(metadata={
        "description": "Whether a sign-in provider (or the admin API key) vouched for the "
                       "address; an unverified address gives way to whoever proves it"})
    name = fields.String()
    role = fields.String()
    phone_number = fields.String(allow_none=True)
    providers = fields.List(fields.String())
    customer_code = fields.String(allow_none=True)
    created_at = UtcDateTime()


class UserEnvelope(Schema):
    user = fields.Nested(UserOut)


class CustomerOut(Schema):
    id = fields.UUID()
    code = fields.String()
    user_id = fields.UUID()
    name = fields.String()
    email = fields.String()
    phone_number = fields.String(allow_none=True)
    created_at = UtcDateTime()


class CustomerEnvelope(Schema):
    customer = fields.Nested(CustomerOut)


class NotificationOut(Schema):
    status = fields.String(metadata={"description": "queued, sent, delivered or failed"})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    sent_at = UtcDateTime(allow_none=True)


class OrderOut(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    customer_code = Text()
    item = fields.String()
    amount = fields.Function(lambda order: f"{order.amount.amount:.2f}",
                             metadata={"type": "string", "example": "420.00"})
    currency = fields.Function(lambda order: order.amount.currency, metadata={"type": "string"})
    status = fields.String()
    created_at = UtcDateTime()
    confirmed_at = UtcDateTime(allow_none=True)
    notification = fields.Nested(NotificationOut, allow_none=True,
                                 metadata={"description": "The SMS announcing the order"})


class OrderEnvelope(Schema):
    order = fields.Nested(OrderOut)


class ReplyOut(Schema):
    sender = fields.String()
    text = fields.String()
    received_at = UtcDateTime()
    outcome = fields.String(metadata={"description": "What the reply did, e.g. confirmed"})


class OrderDetailOut(OrderOut):
    replies = fields.List(fields.Nested(ReplyOut),
                          metadata={"description": "The customer's SMS replies about it"})

    @pre_dump
    def with_replies(self, details: OrderDetails, **kwargs: Any) -> SimpleNamespace:
        return SimpleNamespace(**vars(details.order), replies=details.replies)


class OrderDetailEnvelope(Schema):
    order = fields.Nested(OrderDetailOut)


class NotificationRefOut(Schema):
    id = fields.UUID()
    status = fields.String()


class PlacedOrderOut(Schema):
    order = fields.Nested(OrderOut)
    notification = fields.Nested(NotificationRefOut)


class PageOut(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    total_pages = fields.Integer()


class UserPageOut(PageOut):
    users = fields.List(fields.Nested(UserOut))


class CustomerPageOut(PageOut):
    customers = fields.List(fields.Nested(CustomerOut))


class OrderPageOut(PageOut):
    orders = fields.List(fields.Nested(OrderOut))


class CustomerOrdersOut(OrderPageOut):
    customer = fields.Nested(CustomerOut)

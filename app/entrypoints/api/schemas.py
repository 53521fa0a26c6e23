"""The API's shapes, written by hand for the contract in API.md.

A request field checks exactly what the OpenAPI document says of it (type, ``pattern``,
lengths, bounds), so a request the document allows always passes here, and a request that
breaks it is a 400. What a use case refuses after that is refused for a reason of state or
of the world: 404, 409, 422.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, ClassVar

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_dump,
    validate,
    validates_schema,
)

from app.domain.notifications import SmsStatus
from app.domain.orders import MAX_ITEM_LENGTH, OrderStatus
from app.domain.replies import ReplyOutcome
from app.domain.users import Role
from app.services.views import MAX_PER_PAGE, OrderDetails

# Patterns as the OpenAPI document states them (ECMA-262, as JSON Schema reads them) and as
# the fields check them (with ``re.fullmatch``, so ``$`` is the end of the value in both).
# Characters outside ASCII are written as ``\uXXXX``, which both dialects read alike.


def _class_of(characters: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in characters)


_NUL = _class_of("\x00")
# Whitespace as str.strip() and str.split() see it, which is how the use cases trim text.
_SPACE = _class_of("".join(c for c in map(chr, range(0x10000)) if c.isspace()))
TEXT = f"^[^{_NUL}]*$"
VISIBLE_TEXT = f"^[^{_NUL}]*[^{_NUL}{_SPACE}][^{_NUL}]*$"
_ADDRESS_PART = f"[^@{_NUL}{_SPACE}]+"
EMAIL = f"^{_ADDRESS_PART}@{_ADDRESS_PART}\\.{_ADDRESS_PART}$"
CUSTOMER_CODE = "^[A-Za-z0-9]{8}$"
UUID_TEXT = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
CURRENCY = "^[A-Za-z]{3}$"
# Above 0, below 10^10, at most two decimal places; no sign, exponent or leading zero.
AMOUNT = r"^(?:[1-9][0-9]{0,9}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?))$"
AMOUNT_CEILING = 10**10
MONEY_OUT = r"^[0-9]+\.[0-9]{2}$"
CURRENCY_OUT = "^[A-Z]{3}$"
MAX_PAGE = 10_000_000


def one_to(most: int) -> str:
    """The pattern of the whole numbers from 1 to ``most`` in decimal, no leading zero."""
    top = str(most)
    alternatives = [f"[1-9][0-9]{{0,{len(top) - 2}}}"] if len(top) > 1 else []
    for position, digit in enumerate(top):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(top) - position - 1
            alternatives.append(f"{top[:position]}[{lowest}-{int(digit) - 1}]"
                                + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(top)
    return f"^(?:{'|'.join(alternatives)})$"


# Fields ------------------------------------------------------------------------------------

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


class Chars(fields.String):
    """Text in a request, whole as the document's ``pattern`` allows (by default anything
    without NUL, which PostgreSQL refuses); never a lone surrogate, which no column holds
    (JSON's ``\\ud800`` escapes can send one)."""

    def __init__(self, *, pattern: str = TEXT, mismatch: str = "Not in the expected form.",
                 **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": pattern, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)
        self._pattern = re.compile(pattern)
        self._mismatch = mismatch

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValidationError("Must be valid Unicode text.") from error
        if not self._pattern.fullmatch(text):
            raise ValidationError(self._mismatch)
        return text


class Id(fields.UUID):
    """A UUID in a request, written ``8-4-4-4-12`` in hexadecimal digits."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": UUID_TEXT, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(UUID_TEXT, value):
            raise self.make_error("invalid_uuid")
        return super()._deserialize(value, attr, data, **kwargs)


class Choice(fields.String):
    """One value of an enumeration, read as its member; the document states the enumeration
    once, as a schema of its own named after it (see api.openapi)."""

    def __init__(self, enum: type[StrEnum], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enum = enum

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> StrEnum:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return self.enum(text)
        except ValueError:
            choices = ", ".join(member.value for member in self.enum)
            raise ValidationError(f"Must be one of: {choices}.") from None


class WholeNumber(fields.Field):
    """A whole number from 1 to ``most``, also written as a string of digits (``"2"``, no
    sign, space or leading zero); ``1.5`` is refused, not truncated."""

    def __init__(self, *, most: int, **kwargs: Any) -> None:
        self.most = most
        self._digits = re.compile(one_to(most))
        kwargs["metadata"] = {"oneOf": [
            {"type": "integer", "minimum": 1, "maximum": most},
            {"type": "string", "pattern": self._digits.pattern},
        ], **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and self._digits.fullmatch(value):
            return int(value)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value) and value == int(value) and 1 <= value <= self.most:
            return int(value)
        raise ValidationError(f"Must be a whole number from 1 to {self.most}.")


class Amount(fields.Field):
    """Money: a decimal string with at most two places (``"420.00"``), or a JSON number.

    The string form is the one the document leads with and the one clients should send: a
    JSON number is a binary fraction on the way. A number with more than two decimal places
    gets past the document (no JSON Schema keyword states it reliably for binary fractions),
    so the use case refuses it, with a 422.
    """

    REFUSAL = ("Must be an amount above 0 and below 10000000000 with at most two decimal "
               "places, written as a string such as \"420.00\".")

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {
            "oneOf": [
                {"type": "string", "pattern": AMOUNT, "example": "420.00"},
                {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                 "maximum": AMOUNT_CEILING, "exclusiveMaximum": True},
            ],
            "description": "A decimal string with at most two places, such as \"420.00\" "
                           "(a JSON number is accepted too)",
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal | str:
        if isinstance(value, str) and re.fullmatch(AMOUNT, value):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and 0 < value < AMOUNT_CEILING:
            return Decimal(str(value))  # the number as written, not its binary expansion
        raise ValidationError(self.REFUSAL)


# Requests ----------------------------------------------------------------------------------

class Body(Schema):
    """Request bodies ignore fields they do not know (clients send extras, like ``api_key``)."""

    class Meta:
        unknown = EXCLUDE

    # When set, the document describes the body as any of these schemas, each stating a
    # rule of the whole ("this field or that one"); the fields check the same rule.
    ANY_OF: ClassVar[tuple[type[Schema], ...]] = ()


class RegisterAdminIn(Body):
    email = Chars(required=True, pattern=EMAIL, validate=validate.Length(max=254),
                  mismatch="Not a valid email address.", metadata={"example": "grace@example.com"})
    password = Chars(required=True, validate=validate.Length(min=8, max=1024))
    api_key = Chars(required=True, validate=validate.Length(max=1024))
    phone_number = Chars(load_default=None, allow_none=True, metadata={
        "description": "A mobile number of an allowed region, such as +254712123456; "
                       "empty or null for none"})
    name = Chars(load_default=None, allow_none=True, validate=validate.Length(max=200))


class LoginIn(Body):
    email = Chars(required=True, validate=validate.Length(max=1024))
    password = Chars(required=True, validate=validate.Length(max=1024))


class LogoutIn(Body):
    refresh_token = Chars(load_default=None, allow_none=True, metadata={
        "description": "A refresh token of yours to revoke as well"})


class AddUserNumberIn(Body):
    user_id = Id(required=True)
    phone_number = Chars(required=True, metadata={
        "description": "A mobile number of an allowed region, in any usual form",
        "example": "+254712123456"})


class CreateCustomerIn(Body):
    user_id = Id(required=True)


# List filters are optional and never null: the same fields are query parameters.
class PageIn(Body):
    page = WholeNumber(most=MAX_PAGE, load_default=1)
    per_page = WholeNumber(most=MAX_PER_PAGE, load_default=10)


class UserListIn(PageIn):
    email = Chars(validate=validate.Length(max=254),
                  metadata={"description": "Part of the email, any case"})


def customer_code_field(**kwargs: Any) -> Chars:
    return Chars(pattern=CUSTOMER_CODE, mismatch="A customer code is 8 letters or digits.",
                 metadata={"example": "K7Q2M9XD"}, **kwargs)


class OrderListIn(PageIn):
    customer_code = customer_code_field()
    status = Choice(OrderStatus)


class CustomerOrdersQuery(PageIn):
    customer_code = customer_code_field()
    customer_id = Id()


def names_a_customer(args: dict[str, Any]) -> bool:
    return bool(args.get("customer_code") or args.get("customer_id"))


ONE_CUSTOMER = "Give customer_code or customer_id."


class CustomerOrdersByCode(CustomerOrdersQuery):
    customer_code = customer_code_field(required=True)


class CustomerOrdersById(CustomerOrdersQuery):
    customer_id = Id(required=True)


class CustomerOrdersIn(CustomerOrdersQuery):
    ANY_OF = (CustomerOrdersByCode, CustomerOrdersById)

    @validates_schema
    def one_customer_reference(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not names_a_customer(data):
            raise ValidationError(ONE_CUSTOMER, "customer_code")


class PlaceOrderIn(Body):
    customer_code = customer_code_field(required=True)
    item = Chars(required=True, pattern=VISIBLE_TEXT, mismatch="Must not be blank.",
                 validate=validate.Length(min=1, max=MAX_ITEM_LENGTH),
                 metadata={"example": "Sack of maize"})
    amount = Amount(required=True)
    currency = Chars(load_default=None, allow_none=True, pattern=CURRENCY,
                     mismatch="A currency is a three-letter ISO 4217 code.",
                     metadata={"description": "ISO 4217; the configured default when null",
                               "example": "KES"})


class IdempotencyKeyIn(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = Chars(
        data_key="Idempotency-Key", validate=validate.Length(min=1, max=255),
        metadata={"description": "Repeat a creation safely: same key and body, same order"},
    )


class ConfirmOrderIn(Body):
    customer_code = customer_code_field(required=True)
    order_id = Id(required=True)


# Responses ---------------------------------------------------------------------------------

class Out(Schema):
    """A response: every field is always there (null where the document says it may be)."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.required = True


class TokensOut(Out):
    user_id = fields.UUID()
    email = fields.String()
    role = Choice(Role)
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer(metadata={"description": "Seconds until the access token expires"})


class MessageOut(Out):
    message = fields.String()


class UserOut(Out):
    id = fields.UUID()
    email = fields.String()
    email_verified = fields.Boolean(metadata={
        "description": "Whether a sign-in provider (or the admin API key) vouched for the "
                       "address; an unverified address gives way to whoever proves it"})
    name = fields.String()
    role = Choice(Role)
    phone_number = fields.String(allow_none=True)
    providers = fields.List(fields.String())
    customer_code = fields.String(allow_none=True)
    created_at = UtcDateTime()


class UserEnvelope(Out):
    user = fields.Nested(UserOut)


class CustomerOut(Out):
    id = fields.UUID()
    code = fields.String()
    user_id = fields.UUID()
    name = fields.String()
    email = fields.String()
    phone_number = fields.String(allow_none=True)
    created_at = UtcDateTime()


class CustomerEnvelope(Out):
    customer = fields.Nested(CustomerOut)


class NotificationOut(Out):
    status = Choice(SmsStatus)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    sent_at = UtcDateTime(allow_none=True)


class OrderOut(Out):
    id = fields.UUID()
    customer_id = fields.UUID()
    customer_code = Text()
    item = fields.String()
    amount = fields.Function(lambda order: f"{order.amount.amount:.2f}",
                             metadata={"type": "string", "pattern": MONEY_OUT,
                                       "example": "420.00"})
    currency = fields.Function(lambda order: order.amount.currency,
                               metadata={"type": "string", "pattern": CURRENCY_OUT,
                                         "example": "KES"})
    status = Choice(OrderStatus)
    created_at = UtcDateTime()
    confirmed_at = UtcDateTime(allow_none=True)
    notification = fields.Nested(NotificationOut, allow_none=True,
                                 metadata={"description": "The SMS announcing the order"})


class OrderEnvelope(Out):
    order = fields.Nested(OrderOut)


class ReplyOut(Out):
    sender = fields.String()
    text = fields.String()
    received_at = UtcDateTime()
    outcome = Choice(ReplyOutcome)


class OrderDetailOut(OrderOut):
    replies = fields.List(fields.Nested(ReplyOut),
                          metadata={"description": "The customer's SMS replies about it"})

    @pre_dump
    def with_replies(self, details: OrderDetails, **kwargs: Any) -> SimpleNamespace:
        return SimpleNamespace(**vars(details.order), replies=details.replies)


class OrderDetailEnvelope(Out):
    order = fields.Nested(OrderDetailOut)


class NotificationRefOut(Out):
    id = fields.UUID()
    status = Choice(SmsStatus)


class PlacedOrderOut(Out):
    order = fields.Nested(OrderOut)
    notification = fields.Nested(NotificationRefOut)


class PageOut(Out):
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

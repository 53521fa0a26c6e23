"""Value objects: immutable, validated on construction, equal by value."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers

from app.domain.errors import InvalidCustomerCode, InvalidEmail, InvalidMoney, InvalidPhoneNumber

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True)
class Email:
    """An email address, trimmed and lower-cased so that addresses compare case-insensitively."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> Email:
        normalised = raw.strip().lower()
        if len(normalised) > _MAX_EMAIL_LENGTH or not _EMAIL_SHAPE.match(normalised):
            raise InvalidEmail()
        return cls(normalised)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PhoneNumber:
    """A dialable phone number in E.164 form, e.g. ``+254712345678``."""

    e164: str

    @classmethod
    def parse(cls, raw: str, *, default_region: str = "KE") -> PhoneNumber:
        if len(raw) > 64:
            raise InvalidPhoneNumber()
        try:
            number = phonenumbers.parse(raw, default_region)
        except phonenumbers.NumberParseException as error:
            raise InvalidPhoneNumber() from error
        if not phonenumbers.is_valid_number(number):
            raise InvalidPhoneNumber()
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def __str__(self) -> str:
        return self.e164


_CODE_ALPHABET = string.ascii_uppercase + string.digits
_CODE_LENGTH = 8


@dataclass(frozen=True)
class CustomerCode:
    """The 8-character code a customer is known by, e.g. ``K7Q2M9XD``."""

    value: str

    @classmethod
    def generate(cls) -> CustomerCode:
        return cls("".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH)))

    @classmethod
    def parse(cls, raw: str) -> CustomerCode:
        candidate = raw.strip().upper()
        if len(candidate) != _CODE_LENGTH or any(c not in _CODE_ALPHABET for c in candidate):
            raise InvalidCustomerCode()
        return cls(candidate)

    def __str__(self) -> str:
        return self.value


_CURRENCY_SHAPE = re.compile(r"^[A-Z]{3}$")
_CENTS = Decimal("0.01")
_AMOUNT_CEILING = Decimal(10) ** 10


@dataclass(frozen=True)
class Money:
    """A positive amount with at most two decimal places, below 10^10, in an ISO 4217 currency."""

    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        try:
            value = Decimal(amount) if not isinstance(amount, Decimal) else amount
        except (InvalidOperation, ValueError) as error:
            raise InvalidMoney("Not a valid amount.") from error
        if not value.is_finite():
            raise InvalidMoney("Not a valid amount.")
        if value <= 0:
            raise InvalidMoney("The amount must be greater than zero.")
        if value >= _AMOUNT_CEILING:
            raise InvalidMoney("The amount must be less than 10000000000.")
        if value != value.quantize(_CENTS):
            raise InvalidMoney("The amount may have at most two decimal places.")
        code = currency.strip().upper()
        if not _CURRENCY_SHAPE.match(code):
            raise InvalidMoney("A currency is a three-letter ISO 4217 code.", field="currency")
        return cls(value.quantize(_CENTS), code)

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.2f}"

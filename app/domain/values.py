"""Value objects: immutable, validated on construction, equal by value."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

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
        """Any valid number, of any kind: what a sender of an SMS may be."""
        return cls._of(_parsed(raw, default_region))

    @classmethod
    def _of(cls, number: phonenumbers.PhoneNumber) -> PhoneNumber:
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def __str__(self) -> str:
        return self.e164


def _parsed(raw: str, default_region: str) -> phonenumbers.PhoneNumber:
    if len(raw) > 64:
        raise InvalidPhoneNumber()
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber() from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber()
    return number


_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# What a number is when it is not one the service texts, in the words of the refusal.
_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.FIXED_LINE: "a landline number",
    PhoneNumberType.VOIP: "an internet (VoIP) number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal forwarding number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.UAN: "a company number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
}


@dataclass(frozen=True)
class TextableNumbers:
    """The numbers the service will text: mobile numbers of the allowed regions (ISO 3166
    codes, the first one assumed for numbers written without ``+``).

    Texting premium-rate or foreign numbers costs the business money and lets anyone use its
    sender id against strangers, so every number a person gives is held to this.
    """

    regions: tuple[str, ...] = ("KE",)

    def __post_init__(self) -> None:
        unknown = [r for r in self.regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if not self.regions or unknown:
            raise ValueError(f"not ISO 3166 regions libphonenumber knows: {unknown}")

    def parse(self, raw: str) -> PhoneNumber:
        try:
            number = _parsed(raw, self.regions[0])
        except InvalidPhoneNumber as error:
            raise InvalidPhoneNumber(
                f"Not a valid phone number: expected {self.expected}.") from error
        kind = phonenumbers.number_type(number)
        if kind not in _MOBILE_TYPES:
            what = _REFUSED_TYPES.get(kind, "not a mobile number")
            raise InvalidPhoneNumber(f"That is {what}; we only text {self.expected}.")
        region = phonenumbers.region_code_for_number(number)
        if region not in self.regions:
            raise InvalidPhoneNumber(
                f"That is a number of {_country(region)}; we only text {self.expected}.")
        return PhoneNumber._of(number)

    @property
    def expected(self) -> str:
        """``a mobile number of Kenya, +2547XXXXXXXX, such as +254712123456``."""
        example = _mobile_example(self.regions[0])
        countries = " or ".join(_country(region) for region in self.regions)
        first = PhoneNumber._of(example).e164
        prefix = len(str(example.country_code)) + 2
        shape = first[:prefix] + "X" * (len(first) - prefix)
        return f"a mobile number of {countries}, {shape}, such as {first}"


def _mobile_example(region: str) -> phonenumbers.PhoneNumber:
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    assert example is not None, "libphonenumber has an example for every region it knows"
    return example


def _country(region: str | None) -> str:
    """The English name of a region, e.g. ``Kenya`` for ``KE``."""
    example = phonenumbers.example_number(region) if region else None
    return (geocoder.country_name_for_number(example, "en") if example else "") or "abroad"


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

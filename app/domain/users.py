"""People who use the service, and the customers some of them become."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from app.domain.errors import (
    LimitReached,
    PhoneCodeRefused,
    PhoneNumberRequired,
    PhoneNumberUnverified,
)
from app.domain.values import CustomerCode, Email, PhoneNumber

CODE_LIFETIME = timedelta(minutes=10)
CODE_TRIES = 5
CODE_COOLDOWN = timedelta(seconds=60)


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True)
class Identity:
    """An account at a sign-in provider (``google``, ``github``, ...) linked to a user."""

    provider: str
    subject: str


class PhoneState(StrEnum):
    """Where a person stands with the number they gave, as their account page shows it."""

    NONE = "none"
    UNVERIFIED = "unverified"
    CODE_SENT = "code_sent"
    VERIFIED = "verified"


@dataclass(frozen=True)
class PendingPhone:
    """A number a person gave and has not proven yet, with the code last texted to it.

    Only the code's digest is kept; the use case that sends the code makes it.
    """

    number: PhoneNumber
    code_digest: str | None = None
    code_sent_at: datetime | None = None
    wrong_tries: int = 0

    def code_usable(self, at: datetime) -> bool:
        return (self.code_digest is not None and self.code_sent_at is not None
                and at < self.code_sent_at + CODE_LIFETIME and self.wrong_tries < CODE_TRIES)

    def state(self, at: datetime) -> PhoneState:
        return PhoneState.CODE_SENT if self.code_usable(at) else PhoneState.UNVERIFIED

    def next_code_at(self) -> datetime | None:
        """When another code may be sent; None when one may be sent now."""
        return self.code_sent_at + CODE_COOLDOWN if self.code_sent_at else None


@dataclass(eq=False)
class User:
    email: Email
    name: str
    role: Role
    created_at: datetime
    id: UUID = field(default_factory=uuid4)
    phone_number: PhoneNumber | None = None
    password_hash: str | None = None
    identities: list[Identity] = field(default_factory=list)
    # True once someone trusted vouched for the address: a sign-in provider that verified
    # it, or the holder of the admin API key. Only such addresses are linked to by email.
    email_verified: bool = False
    # ``phone_number`` is always one the service may text: an administrator entered it or
    # the person proved it with a code. A number they typed waits here until then.
    pending_phone: PendingPhone | None = None
    # Browser sessions carry the version they began with; logging out moves it on, which
    # ends every session begun before, copied cookies included.
    session_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def providers(self) -> list[str]:
        return sorted({identity.provider for identity in self.identities})

    def give_up_email(self) -> None:
        """Let go of an unproven address someone else has proven: the account keeps a
        placeholder that can reach nobody (``.invalid`` is reserved for that)."""
        assert not self.email_verified, "a proven address is never taken away"
        self.email = Email(f"{self.id.hex}@unverified.invalid")

    def give_phone_number(self, number: PhoneNumber) -> None:
        """Set a number someone trusted vouches for (an administrator)."""
        self.phone_number = number
        if self.pending_phone and self.pending_phone.number == number:
            self.pending_phone = None

    def propose_phone_number(self, number: PhoneNumber) -> bool:
        """Take a number the person typed, to be proven; False when it needs no proof because
        it is their number already."""
        if number == self.phone_number:
            self.pending_phone = None
            return False
        if self.pending_phone is None:
            self.pending_phone = PendingPhone(number)
        elif self.pending_phone.number != number:
            # The cooldown is the person's, not the number's: it carries over.
            self.pending_phone = PendingPhone(number, code_sent_at=self.pending_phone.code_sent_at)
        return True

    def phone_code_sent(self, digest: str, *, at: datetime) -> None:
        """Record that a new code went to the pending number; refused during the cooldown."""
        pending = self.pending_phone
        assert pending is not None, "a code is only sent to a pending number"
        resend_at = pending.next_code_at()
        if resend_at is not None and at < resend_at:
            wait = int((resend_at - at).total_seconds()) + 1
            raise LimitReached(f"A code was sent moments ago; you can ask for another in "
                               f"{wait} seconds.", limit="phone_code_cooldown",
                               retry_after=wait, field="phone_number")
        self.pending_phone = replace(pending, code_digest=digest, code_sent_at=at,
                                     wrong_tries=0)

    def prove_phone(self, digest: str, *, at: datetime) -> None:
        """The person typed back a code: with the right one the pending number becomes theirs.

        A wrong code uses up one of the tries, which the caller must keep even as this raises.
        """
        pending = self.pending_phone
        if pending is None or pending.code_digest is None or pending.code_sent_at is None:
            raise PhoneCodeRefused("No code has been sent: add your phone number first.")
        if pending.wrong_tries >= CODE_TRIES:
            raise PhoneCodeRefused("Too many wrong codes: ask for a new code.")
        if at >= pending.code_sent_at + CODE_LIFETIME:
            raise PhoneCodeRefused("That code has expired: ask for a new code.")
        if not hmac.compare_digest(digest, pending.code_digest):
            tries = pending.wrong_tries + 1
            self.pending_phone = replace(pending, wrong_tries=tries)
            left = CODE_TRIES - tries
            raise PhoneCodeRefused(f"That code is not right; {left} tries left." if left
                                   else "That code is not right: ask for a new code.")
        self.phone_number = pending.number
        self.pending_phone = None

    def phone_state(self, at: datetime) -> PhoneState:
        return phone_state(self.phone_number, self.pending_phone, at=at)


def phone_state(number: PhoneNumber | str | None, pending: PendingPhone | None, *,
                at: datetime) -> PhoneState:
    """A number waiting to be proven is what the person is busy with; else the proven one."""
    if pending is not None:
        return pending.state(at)
    return PhoneState.VERIFIED if number else PhoneState.NONE


@dataclass(eq=False)
class Customer:
    user_id: UUID
    code: CustomerCode
    created_at: datetime
    id: UUID = field(default_factory=uuid4)

    @classmethod
    def enrol(cls, user: User, *, code: CustomerCode, at: datetime) -> Customer:
        """Make ``user`` a customer; orders are announced by SMS, so a number the service may
        text is needed."""
        if user.phone_number is None:
            raise PhoneNumberUnverified() if user.pending_phone else PhoneNumberRequired()
        return cls(user_id=user.id, code=code, created_at=at)

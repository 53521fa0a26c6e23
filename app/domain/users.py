"""People who use the service, and the customers some of them become."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from app.domain.errors import PhoneNumberRequired
from app.domain.values import CustomerCode, Email, PhoneNumber


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True)
class Identity:
    """An account at a sign-in provider (``google``, ``github``, ...) linked to a user."""

    provider: str
    subject: str


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

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def providers(self) -> list[str]:
        return sorted({identity.provider for identity in self.identities})


@dataclass(eq=False)
class Customer:
    user_id: UUID
    code: CustomerCode
    created_at: datetime
    id: UUID = field(default_factory=uuid4)

    @classmethod
    def enrol(cls, user: User, *, code: CustomerCode, at: datetime) -> Customer:
        """Make ``user`` a customer; orders are announced by SMS, so a phone number is needed."""
        if user.phone_number is None:
            raise PhoneNumberRequired()
        return cls(user_id=user.id, code=code, created_at=at)

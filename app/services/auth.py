"""Administrator registration, sign-in and token revocation."""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain.errors import InvalidEmail
from app.domain.sms_text import clean_text
from app.domain.users import Role, User
from app.domain.values import Email
from app.services.errors import (
    EmailTaken,
    InvalidApiKey,
    InvalidCredentials,
    PhoneNumberTaken,
    TokenRevoked,
    UniqueViolation,
)
from app.services.limits import DEFAULT_LIMITS, Limits
from app.services.ports import Clock, PasswordHasher, UnitOfWork


@dataclass(frozen=True)
class RegisterAdmin:
    email: str
    password: str
    api_key: str
    name: str | None = None
    phone_number: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """The parts of a token the service remembers when it is revoked.

    ``family`` names the sign-in the token comes from: every token issued by refreshing
    carries its family on, so that a whole session can be ended at once.
    """

    jti: str
    expires_at: datetime
    family: str


def family_key(family: str) -> str:
    """How a revoked family is remembered among revoked token ids."""
    return f"family:{family}"


def register_admin(
    cmd: RegisterAdmin,
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    admin_api_key: str,
    clock: Clock,
    limits: Limits = DEFAULT_LIMITS,
) -> User:
    if not hmac.compare_digest(cmd.api_key.encode(), admin_api_key.encode()):
        raise InvalidApiKey()
    email = Email.parse(cmd.email)
    phone_number = limits.numbers.parse(cmd.phone_number) if cmd.phone_number else None
    with uow:
        if uow.users.get_by_email(email) is not None:
            raise EmailTaken()
        if phone_number and uow.users.get_by_phone_number(phone_number) is not None:
            raise PhoneNumberTaken()
        user = User(
            email=email,
            name=clean_text(cmd.name or "") or email.value.split("@")[0],
            role=Role.ADMIN,
            phone_number=phone_number,
            password_hash=hasher.hash(cmd.password),
            email_verified=True,  # vouched for by the holder of the admin API key
            created_at=clock(),
        )
        uow.users.add(user)
        _commit_raising_conflicts(uow)
        return user


def authenticate_admin(
    email: str, password: str, *, uow: UnitOfWork, hasher: PasswordHasher, decoy_hash: str
) -> User:
    """The admin with these credentials; unknown emails cost the same hash check as known ones."""
    try:
        address: Email | None = Email.parse(email)
    except InvalidEmail:
        address = None
    with uow:
        user = uow.users.get_by_email(address) if address else None
    stored_hash = user.password_hash if user and user.password_hash else decoy_hash
    password_matches = hasher.verify(stored_hash, password)
    if user is None or not user.is_admin or user.password_hash is None or not password_matches:
        raise InvalidCredentials()
    return user


def rotate_refresh_token(user_id: UUID, old: IssuedToken, *, uow: UnitOfWork,
                         family_expires_at: datetime) -> User:
    """Spend a refresh token: it is revoked, and the admin it belonged to is returned.

    A refresh token spent twice was copied: whoever holds the other copy may be a thief who
    already refreshed, so the whole family ends, theirs and the owner's tokens alike.
    ``family_expires_at`` is when the family's newest possible token expires.
    """
    with uow:
        user = uow.users.get(user_id)
        if user is None or not user.is_admin:
            raise InvalidCredentials()
        if not uow.revoked_tokens.contains(old.jti):
            uow.revoked_tokens.add(old.jti, expires_at=old.expires_at)
            try:
                uow.commit()
                return user
            except UniqueViolation:
                uow.rollback()  # spent twice at once: the same as a replay
    refresh_token_reused(old, uow=uow, family_expires_at=family_expires_at)
    raise TokenRevoked()


def refresh_token_reused(token: IssuedToken, *, uow: UnitOfWork,
                         family_expires_at: datetime) -> None:
    """A refresh token already spent came back: end every token of its family."""
    _revoke(uow, {family_key(token.family): family_expires_at})


def revoke_tokens(tokens: list[IssuedToken], *, uow: UnitOfWork,
                  family_expires_at: datetime) -> None:
    """Log out: the tokens presented and the families they belong to, so that the refresh
    tokens of the same sign-in stop working too."""
    revoked = {t.jti: t.expires_at for t in tokens}
    revoked |= {family_key(t.family): family_expires_at for t in tokens}
    _revoke(uow, revoked)


def _revoke(uow: UnitOfWork, revoked: dict[str, datetime]) -> None:
    with uow:
        # Look everything up before the first write, so a lost race surfaces only at commit.
        for jti, expires_at in revoked.items():
            if not uow.revoked_tokens.contains(jti):
                uow.revoked_tokens.add(jti, expires_at=expires_at)
        # A concurrent logout may revoke the same token first: the outcome is the one asked for.
        with contextlib.suppress(UniqueViolation):
            uow.commit()


@dataclass(frozen=True)
class TokenHolder:
    """The user a token was issued to, as they are now."""

    user_id: UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class TokenCheck:
    """What an authentic token is worth now: it may have been revoked, and the role it
    claims is only what its holder had when it was issued."""

    revoked: bool
    holder: TokenHolder | None  # None when revoked, or when no user has the token's subject


def check_token(jti: str, subject: str, *, family: str, uow: UnitOfWork) -> TokenCheck:
    """Whether the token or its family was revoked and who holds it now, in one look-up
    (every request)."""
    try:
        user_id: UUID | None = UUID(subject)
    except ValueError:
        user_id = None
    with uow:
        revoked, role = uow.revoked_tokens.check(jti, family_key(family), issued_to=user_id)
    if revoked:
        return TokenCheck(revoked=True, holder=None)
    holder = TokenHolder(user_id, role) if user_id and role else None
    return TokenCheck(revoked=False, holder=holder)


def _commit_raising_conflicts(uow: UnitOfWork) -> None:
    """Commit; a concurrent request that took the same email or phone number loses here."""
    try:
        uow.commit()
    except UniqueViolation as race:
        if race.what == "phone_number":
            raise PhoneNumberTaken() from race
        raise EmailTaken() from race

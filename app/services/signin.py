"""Signing people in from a browser with an account they hold at Google, GitHub, Facebook, ..."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from app.domain.errors import DomainError, InvalidEmail
from app.domain.sms_text import clean_text
from app.domain.users import Identity, Role, User
from app.domain.values import Email
from app.services.errors import UniqueViolation
from app.services.ports import Clock, UnitOfWork


@dataclass(frozen=True)
class SignedInIdentity:
    """What a provider vouches for after a successful sign-in."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


class IdentityProvider(abc.ABC):
    """The sign-in providers: where to send the browser, and who came back from there.

    Both flow methods work on the current browser request: the state, nonce and PKCE verifier
    that ``authorization_url`` remembers are checked by ``identity_from_callback``.
    """

    @abc.abstractmethod
    def enabled(self) -> list[str]:
        """Names of the configured providers, in the order to offer them."""

    @abc.abstractmethod
    def authorization_url(self, provider: str, redirect_uri: str) -> str: ...

    @abc.abstractmethod
    def identity_from_callback(self, provider: str) -> SignedInIdentity: ...


class SignInError(Exception):
    """The provider did not let the person in; the message is safe to show them."""


class ConsentDenied(SignInError):
    def __init__(self) -> None:
        super().__init__("You chose not to share your account with us, so you are not signed in.")


class StateMismatch(SignInError):
    def __init__(self) -> None:
        super().__init__(
            "This sign-in expired or was started in another browser. Please try again.")


class ProviderUnavailable(SignInError):
    def __init__(self) -> None:
        super().__init__("The sign-in provider did not answer in time. Please try again shortly.")


class ProviderAnswerRejected(SignInError):
    def __init__(self) -> None:
        super().__init__("The sign-in provider's answer could not be accepted. Please try again.")


class EmailMissing(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Your account there did not share a usable email address, which we need to sign "
            "you in. Share your email with us, or use another sign-in option.",
            field="email",
        )


class EmailNotVerified(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "An account with this email address already exists, and we cannot be sure both "
            "belong to you: the address was not verified on one of them. Sign in the way you "
            "did before, or verify the address with your provider.",
            field="email",
        )


def sign_in(identity: SignedInIdentity, *, uow: UnitOfWork, clock: Clock) -> User:
    """The user this identity belongs to: found, linked by verified email, or new.

    A user found or linked has their name (and verified email) refreshed. Users made here
    are never administrators.
    """
    email = _usable_email(identity)
    with uow:
        found = uow.users.get_by_identity(identity.provider, identity.subject)
        user = found or _linked_or_new(identity, email, uow=uow, clock=clock)
        _refresh(user, identity, email, uow=uow)
        uow.users.add(user)
        try:
            uow.commit()
        except UniqueViolation:
            # A concurrent first sign-in of the same identity won: it made the user.
            uow.rollback()
            winner = uow.users.get_by_identity(identity.provider, identity.subject)
            if winner is None:
                raise
            return winner
        return user


def _usable_email(identity: SignedInIdentity) -> Email:
    try:
        return Email.parse(identity.email or "")
    except InvalidEmail as error:
        raise EmailMissing() from error


def _linked_or_new(
    identity: SignedInIdentity, email: Email, *, uow: UnitOfWork, clock: Clock
) -> User:
    holder = uow.users.get_by_email(email)
    if holder is not None and identity.email_verified and not holder.email_verified:
        # Whoever signed in first with an address they had not proven does not keep it
        # from its owner, who has: the squatter keeps their account, not the address.
        holder.give_up_email()
        uow.users.add(holder)
        holder = None
    # Both sides must vouch for the address: otherwise whoever first signed in with someone
    # else's unverified address would later be handed that person's verified account.
    if holder is not None and not (identity.email_verified and holder.email_verified):
        raise EmailNotVerified()
    user = holder or User(email=email, name=_name(identity, email), role=Role.USER,
                          created_at=clock(), email_verified=identity.email_verified)
    user.identities.append(Identity(provider=identity.provider, subject=identity.subject))
    return user


def _refresh(user: User, identity: SignedInIdentity, email: Email, *, uow: UnitOfWork) -> None:
    user.name = _name(identity, email, fallback=user.name)
    # Only an address the provider vouches for, and nobody else holds, replaces the stored one:
    # otherwise a changed, unverified address could later be linked to by someone else.
    holder = uow.users.get_by_email(email)
    if identity.email_verified and (holder is None or holder.id == user.id):
        user.email = email
        user.email_verified = True


def _name(identity: SignedInIdentity, email: Email, *, fallback: str | None = None) -> str:
    return clean_text(identity.name or "") or fallback or email.value.split("@")[0]

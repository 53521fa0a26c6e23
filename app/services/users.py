"""Looking users up, and the phone numbers the service may text them at."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

from app.domain.errors import LimitReached, PhoneCodeRefused
from app.domain.notifications import SmsKind, SmsMessage
from app.domain.users import PhoneState, User
from app.domain.values import PhoneNumber
from app.services import messages
from app.services.errors import PhoneNumberTaken, UniqueViolation, UserNotFound
from app.services.limits import DAY, DEFAULT_LIMITS, Limits, queue_sms_now, take
from app.services.ports import Clock, UnitOfWork
from app.services.views import Page, PageRequest, UserView

CODE_DIGITS = 6


@dataclass(frozen=True)
class PhoneCodes:
    """Makes the one-time codes that prove a phone number, and the digests kept of them.

    The digest is keyed: six digits are a million guesses, so a plain hash of a code read
    from a copy of the database would give it away at once.
    """

    key: bytes

    def new(self) -> str:
        return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"

    def digest(self, user_id: UUID, number: PhoneNumber, code: str) -> str:
        message = f"{user_id}:{number.e164}:{code}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def add_phone_number(user_id: UUID, raw_phone_number: str, *, uow: UnitOfWork,
                     limits: Limits = DEFAULT_LIMITS) -> UserView:
    """An administrator gives a user a number; theirs is the word that vouches for it."""
    phone_number = limits.numbers.parse(raw_phone_number)
    with uow:
        user = _user(user_id, uow)
        _refuse_if_taken(phone_number, user, uow)
        user.give_phone_number(phone_number)
        uow.users.add(user)
        return _committed_view(user, uow)


def request_phone_code(user_id: UUID, raw_phone_number: str, *, uow: UnitOfWork,
                       clock: Clock, codes: PhoneCodes,
                       limits: Limits = DEFAULT_LIMITS) -> PhoneState:
    """A person gives their own number: it is theirs once they type back the code texted to
    it. Codes are limited per number and per person, and a new one waits for a cooldown."""
    phone_number = limits.numbers.parse(raw_phone_number)
    with uow:
        user = _user(user_id, uow)
        _refuse_if_taken(phone_number, user, uow)
        now = clock()
        if user.propose_phone_number(phone_number):
            code = codes.new()
            try:
                user.phone_code_sent(codes.digest(user.id, phone_number, code), at=now)
            except LimitReached as cooldown:
                limits.reached(cooldown.limit)
                raise
            take("codes_per_number", phone_number.e164, at=now, length=DAY,
                 most=limits.codes_per_number_per_day, uow=uow, limits=limits,
                 field="phone_number",
                 refusal="This number has had as many codes today as we send in a day.")
            take("codes_per_person", str(user.id), at=now, length=DAY,
                 most=limits.codes_per_person_per_day, uow=uow, limits=limits,
                 field="phone_number",
                 refusal="You have asked for as many codes today as we send in a day.")
            queue_sms_now(SmsMessage(recipient=phone_number, text=messages.phone_code(code),
                                     created_at=now, kind=SmsKind.PHONE_CODE),
                          uow=uow, limits=limits)
        uow.users.add(user)
        uow.commit()
        return user.phone_state(now)


def confirm_phone_code(user_id: UUID, code: str, *, uow: UnitOfWork, clock: Clock,
                       codes: PhoneCodes) -> UserView:
    """The person types back the code: the number they gave becomes the one we text."""
    typed = "".join(code.split())
    if len(typed) != CODE_DIGITS or not typed.isdecimal():
        raise PhoneCodeRefused(f"The code is the {CODE_DIGITS} digits we texted you.")
    with uow:
        user = _user(user_id, uow)
        pending = user.pending_phone
        digest = codes.digest(user.id, pending.number, typed) if pending else ""
        try:
            user.prove_phone(digest, at=clock())
        except PhoneCodeRefused:
            uow.users.add(user)  # the wrong try counts
            uow.commit()
            raise
        assert user.phone_number is not None
        _refuse_if_taken(user.phone_number, user, uow)
        uow.users.add(user)
        return _committed_view(user, uow)


def end_browser_sessions(user_id: UUID, *, uow: UnitOfWork) -> None:
    """Log out: every browser session of the user begun until now ends."""
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            return
        user.session_version += 1
        uow.users.add(user)
        uow.commit()


def get_user(user_id: UUID, *, uow: UnitOfWork) -> UserView:
    with uow:
        view = uow.users.view(user_id)
    if view is None:
        raise UserNotFound()
    return view


def list_users(
    request: PageRequest, *, email_contains: str | None = None, uow: UnitOfWork
) -> Page[UserView]:
    with uow:
        return uow.users.list(request, email_contains=email_contains or None)


def _user(user_id: UUID, uow: UnitOfWork) -> User:
    user = uow.users.get(user_id)
    if user is None:
        raise UserNotFound()
    return user


def _refuse_if_taken(phone_number: PhoneNumber, user: User, uow: UnitOfWork) -> None:
    holder = uow.users.get_by_phone_number(phone_number)
    if holder is not None and holder.id != user.id:
        raise PhoneNumberTaken()


def _committed_view(user: User, uow: UnitOfWork) -> UserView:
    try:
        uow.commit()
    except UniqueViolation as race:
        raise PhoneNumberTaken() from race
    view = uow.users.view(user.id)
    assert view is not None
    return view

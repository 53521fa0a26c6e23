"""How much any one person or number can make the service do, per window of time.

Each limit is a count of uses in a fixed window (a UTC day, an hour), kept in the database by
the same transaction as the work it limits, so that every process and host shares it and a
rolled-back request uses nothing up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.domain.errors import LimitReached
from app.domain.notifications import SmsMessage
from app.domain.values import PhoneNumber, TextableNumbers
from app.services.ports import UnitOfWork

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
# A message held back this far and still without room is failed, visibly, not kept forever.
MAX_DAYS_HELD = 30


@dataclass(frozen=True)
class Limits:
    orders_per_person_per_day: int = 20
    sms_per_number_per_day: int = 30
    codes_per_number_per_day: int = 3
    codes_per_person_per_day: int = 5
    answers_per_stranger_per_hour: int = 1
    numbers: TextableNumbers = field(default_factory=TextableNumbers)
    # Told the name of every limit that refuses or holds something back (the metrics).
    listeners: list[Callable[[str], None]] = field(default_factory=list, compare=False)

    def reached(self, limit: str) -> None:
        for listener in self.listeners:
            listener(limit)


def window(at: datetime, length: timedelta) -> datetime:
    """The start of the fixed window of ``length`` (a day or an hour, in UTC) holding ``at``."""
    if length == DAY:
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(minute=0, second=0, microsecond=0)


def take(limit: str, subject: str, *, at: datetime, length: timedelta, most: int,
         uow: UnitOfWork, limits: Limits, refusal: str, field: str | None = None) -> None:
    """Use up one of the ``most`` uses ``subject`` has of ``limit`` in the window holding
    ``at``, or raise LimitReached saying ``refusal`` and how long until the window ends."""
    if not has_room(limit, subject, at=at, length=length, most=most, uow=uow, limits=limits):
        wait = int((window(at, length) + length - at).total_seconds()) + 1
        raise LimitReached(refusal, limit=limit, retry_after=wait, field=field)


def has_room(limit: str, subject: str, *, at: datetime, length: timedelta, most: int,
             uow: UnitOfWork, limits: Limits) -> bool:
    """Use up one of the ``most`` uses ``subject`` has of ``limit``; False when none is left."""
    if uow.usage.take(f"{limit}:{subject}", window(at, length), limit=most):
        return True
    limits.reached(limit)
    return False


def queue_sms(message: SmsMessage, *, uow: UnitOfWork, limits: Limits) -> SmsMessage:
    """Put an SMS in the outbox. A number that has had its SMS for the day gets the message
    the first day with room; it is held back, never dropped, and says so."""
    cap = limits.sms_per_number_per_day
    today = window(message.created_at, DAY)
    for days_ahead in range(MAX_DAYS_HELD + 1):
        day = today + days_ahead * DAY
        if uow.usage.take(_sms_key(message.recipient), day, limit=cap):
            if days_ahead:
                limits.reached("sms_per_number")
                message.hold_back(day, reason=(
                    f"Held back: {cap} SMS a day at most to one number; it goes out on "
                    f"{day:%d %b %Y} from 00:00 UTC."))
            break
    else:
        limits.reached("sms_per_number")
        message.fail(reason=f"Held back: {cap} SMS a day at most to one number, and "
                            f"{MAX_DAYS_HELD} days ahead are full.")
    uow.outbox.add(message)
    return message


def queue_sms_now(message: SmsMessage, *, uow: UnitOfWork, limits: Limits) -> SmsMessage:
    """Put an SMS that is worth nothing tomorrow (a code) in the outbox, or raise
    LimitReached when the number has had its SMS for the day."""
    take("sms_per_number", message.recipient.e164, at=message.created_at, length=DAY,
         most=limits.sms_per_number_per_day, uow=uow, limits=limits,
         refusal="This number has had as many SMS today as we send to one number in a day.",
         field="phone_number")
    uow.outbox.add(message)
    return message


def _sms_key(number: PhoneNumber) -> str:
    return f"sms_per_number:{number.e164}"


DEFAULT_LIMITS = Limits()

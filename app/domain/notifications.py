"""SMS messages waiting in the outbox, and what became of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from app.domain.values import PhoneNumber


class SmsStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class SmsKind(StrEnum):
    """Why a message was written: the order event it announces, or a plain notice."""

    ORDER_PLACED = "order_placed"
    ORDER_CONFIRMED = "order_confirmed"
    PHONE_CODE = "phone_code"
    NOTICE = "notice"


@dataclass(frozen=True)
class NotificationState:
    """What an admin sees of an order's SMS."""

    status: SmsStatus
    attempts: int
    last_error: str | None
    sent_at: datetime | None


@dataclass(eq=False)
class SmsMessage:
    """One SMS to one number. It is sent at least once; only its outcome is recorded here."""

    recipient: PhoneNumber
    text: str
    created_at: datetime
    order_id: UUID | None = None
    kind: SmsKind = SmsKind.NOTICE
    id: UUID = field(default_factory=uuid4)
    status: SmsStatus = SmsStatus.QUEUED
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.next_attempt_at is None:
            self.next_attempt_at = self.created_at

    @property
    def state(self) -> NotificationState:
        return NotificationState(self.status, self.attempts, self.last_error, self.sent_at)

    def claim(self, *, lease_until: datetime) -> None:
        """A worker takes the message: nobody else sends it before ``lease_until``.

        If the worker dies mid-send the lease runs out and another worker sends it again:
        delivery is at least once.
        """
        self.attempts += 1
        self.next_attempt_at = lease_until

    def mark_sent(self, provider_message_id: str, *, at: datetime) -> None:
        self.status = SmsStatus.SENT
        self.provider_message_id = provider_message_id
        self.sent_at = at
        self.next_attempt_at = None
        self.last_error = None

    def hold_back(self, until: datetime, *, reason: str) -> None:
        """Not before ``until``: the number has had as many SMS as it may for now."""
        self.next_attempt_at = until
        self.last_error = reason

    def retry_at(self, when: datetime, *, reason: str) -> None:
        self.status = SmsStatus.QUEUED
        self.next_attempt_at = when
        self.last_error = reason

    def fail(self, *, reason: str) -> None:
        self.status = SmsStatus.FAILED
        self.next_attempt_at = None
        self.last_error = reason

    def mark_delivered(self) -> None:
        """The handset has it. A report arriving late or twice changes nothing further."""
        if self.status in {SmsStatus.SENT, SmsStatus.QUEUED}:
            self.status = SmsStatus.DELIVERED
            self.last_error = None

    def mark_undelivered(self, *, reason: str) -> None:
        if self.status is not SmsStatus.DELIVERED:
            self.fail(reason=reason)

    def requeue(self, *, at: datetime) -> None:
        """Give a failed message a fresh set of attempts (after the cause was fixed)."""
        if self.status is SmsStatus.FAILED:
            self.status = SmsStatus.QUEUED
            self.attempts = 0
            self.next_attempt_at = at

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


@dataclass(eq=False)
class SmsMessage:
    recipient: PhoneNumber
    text: str
    created_at: datetime
    order_id: UUID | None = None
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

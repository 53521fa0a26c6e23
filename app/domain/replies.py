"""Text messages customers send back, and what the service makes of them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

# English and Swahili ("ndio", "ndiyo": yes; "sawa": fine; "hali": state).
CONFIRM_WORDS = frozenset({"YES", "Y", "CONFIRM", "CONFIRMED", "RECEIVED", "NDIO", "NDIYO",
                           "SAWA"})
STATUS_WORDS = frozenset({"STATUS", "HALI"})
_REFERENCE = re.compile(r"^[0-9A-F]{6}$")
_WORDS = re.compile(r"[A-Z0-9]+")
# The longest gateway message id and sender the service keeps; a longer sender cannot be a
# phone number (E.164 allows 15 digits).
MAX_PROVIDER_MESSAGE_ID = 100
MAX_SENDER = 32


class Intent(StrEnum):
    CONFIRM = "confirm"
    STATUS = "status"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reply:
    """What a customer asked for, and the order reference they named, if any."""

    intent: Intent
    reference: str | None = None


def read_reply(text: str) -> Reply:
    """Understand "yes abc123", "Ndio, ABC123!", " STATUS  abc123 " and the like."""
    words = _WORDS.findall(text.upper())
    if not words:
        return Reply(Intent.UNKNOWN)
    keyword, rest = words[0], words[1:]
    if keyword in CONFIRM_WORDS:
        intent = Intent.CONFIRM
    elif keyword in STATUS_WORDS:
        intent = Intent.STATUS
    elif _REFERENCE.match(keyword) and rest and rest[0] in CONFIRM_WORDS | STATUS_WORDS:
        # "ABC123 yes": the reference first is still clear enough.
        return read_reply(" ".join([*rest, keyword]))
    else:
        return Reply(Intent.UNKNOWN)
    reference = next((word for word in rest if _REFERENCE.match(word)), None)
    if rest and reference is None:
        return Reply(Intent.UNKNOWN)  # something follows the keyword, but not a reference
    return Reply(intent, reference)


class ReplyOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    WHICH_ORDER = "which_order"
    NO_PENDING_ORDER = "no_pending_order"
    UNKNOWN_REFERENCE = "unknown_reference"
    STATUS = "status"
    NOT_UNDERSTOOD = "not_understood"
    UNKNOWN_NUMBER = "unknown_number"


@dataclass(eq=False)
class IncomingSms:
    """One message received from a phone, kept with what was done about it."""

    provider_message_id: str
    sender: str
    text: str
    received_at: datetime
    outcome: ReplyOutcome
    order_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)

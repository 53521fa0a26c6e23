"""SMS messages: those waiting to go out (the outbox), and those received from customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, bindparam, column, func, select, update

from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.tables import UtcTimestamp, incoming_sms, sms_outbox
from app.domain.notifications import SmsKind, SmsMessage, SmsStatus
from app.domain.replies import IncomingSms, ReplyOutcome
from app.domain.values import PhoneNumber
from app.services import ports

_OLDEST_FIRST = (sms_outbox.c.created_at, sms_outbox.c.id)
_BY_ID = select(sms_outbox).where(sms_outbox.c.id == bindparam("message_id"))
_FOR_ORDER = (select(sms_outbox).where(sms_outbox.c.order_id == bindparam("order_id"))
              .order_by(*_OLDEST_FIRST))
_BY_PROVIDER_ID = (select(sms_outbox)
                   .where(sms_outbox.c.provider_message_id == bindparam("provider_id")).limit(1))
# FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has no row locks and SQLAlchemy leaves the
# clause out there, which is why SQLite runs one worker at a time.
_DUE_IDS = (select(sms_outbox.c.id)
            .where(sms_outbox.c.status == SmsStatus.QUEUED.value,
                   sms_outbox.c.next_attempt_at <= bindparam("now"))
            .order_by(sms_outbox.c.next_attempt_at, sms_outbox.c.id)
            .limit(bindparam("limit")).with_for_update(skip_locked=True))
# The claim is SmsMessage.claim for a batch, in one statement.
_CLAIM = (update(sms_outbox).where(sms_outbox.c.id.in_(_DUE_IDS))
          .values(attempts=sms_outbox.c.attempts + 1,
                  next_attempt_at=bindparam("lease_until", type_=UtcTimestamp))
          .returning(*sms_outbox.c))
_FAILED = (select(sms_outbox).where(sms_outbox.c.status == SmsStatus.FAILED.value)
           .order_by(*_OLDEST_FIRST).limit(bindparam("limit")))
_DUE = sms_outbox.c.next_attempt_at <= bindparam("now", type_=UtcTimestamp)
_SUMMARY = (select(sms_outbox.c.status, func.count().label("messages"),
                   func.count().filter(_DUE).label("due"),
                   func.min(sms_outbox.c.next_attempt_at).filter(_DUE).label("oldest_due_at"))
            .group_by(sms_outbox.c.status))
_UPDATE = (update(sms_outbox).where(sms_outbox.c.id == bindparam("new_id"))
           .values({c.name: bindparam(f"new_{c.name}") for c in sms_outbox.c if c.name != "id"}))
# What a send changes, for claimed messages whose attempts are still those of the claim.
_OUTCOME_COLUMNS = ("status", "next_attempt_at", "last_error", "provider_message_id",
                    "sent_at")
_FENCE = ("id", "attempts")
# PostgreSQL: the whole batch as arrays, one statement of one shape whatever its size.
_RECORDED = func.unnest(*(
    bindparam(f"r_{name}", type_=ARRAY(sms_outbox.c[name].type))
    for name in (*_FENCE, *_OUTCOME_COLUMNS))).table_valued(
        *(column(name) for name in (*_FENCE, *_OUTCOME_COLUMNS))).render_derived("recorded")
_RECORD_ALL = (update(sms_outbox)
               .where(sms_outbox.c.id == _RECORDED.c.id,
                      sms_outbox.c.attempts == _RECORDED.c.attempts)
               .values({name: _RECORDED.c[name] for name in _OUTCOME_COLUMNS}))
# Elsewhere: one executemany of one UPDATE per message.
_RECORD_EACH = (update(sms_outbox)
                .where(sms_outbox.c.id == bindparam("m_id"),
                       sms_outbox.c.attempts == bindparam("m_attempts"))
                .values({name: bindparam(f"m_{name}") for name in _OUTCOME_COLUMNS}))

_INCOMING_BY_PROVIDER_ID = select(incoming_sms).where(
    incoming_sms.c.provider_message_id == bindparam("provider_id"))
_REPLIES_TO_ORDER = (select(incoming_sms).where(incoming_sms.c.order_id == bindparam("order_id"))
                     .order_by(incoming_sms.c.received_at, incoming_sms.c.id))


class SqlAlchemySmsOutbox(ports.SmsOutbox):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def add(self, message: SmsMessage) -> None:
        self._batch.insert(sms_outbox, sms_values(message))

    def get(self, message_id: UUID) -> SmsMessage | None:
        row = self._batch.run(_BY_ID, {"message_id": message_id}).first()
        return sms_from_row(row) if row else None

    def for_order(self, order_id: UUID) -> list[SmsMessage]:
        return [sms_from_row(row) for row in self._batch.run(_FOR_ORDER, {"order_id": order_id})]

    def claim_due(self, now: datetime, *, lease_until: datetime, limit: int
                  ) -> list[SmsMessage]:
        rows = self._batch.run(_CLAIM, {"now": now, "limit": limit, "lease_until": lease_until})
        claimed = [sms_from_row(row) for row in rows]
        return sorted(claimed, key=lambda message: (message.created_at, str(message.id)))

    def record(self, messages: Sequence[SmsMessage]) -> int:
        if not messages:
            return 0
        rows = [sms_values(message) for message in messages]
        if self._batch.dialect == "postgresql":
            result = self._batch.run(_RECORD_ALL, {
                f"r_{name}": [row[name] for row in rows] for name in (*_FENCE, *_OUTCOME_COLUMNS)})
        else:
            result = self._batch.run(_RECORD_EACH, [
                {f"m_{name}": row[name] for name in (*_FENCE, *_OUTCOME_COLUMNS)}
                for row in rows])
        return result.rowcount

    def save(self, message: SmsMessage) -> None:
        self._batch.change(_UPDATE, {f"new_{k}": v for k, v in sms_values(message).items()})

    def get_by_provider_id(self, provider_message_id: str) -> SmsMessage | None:
        row = self._batch.run(_BY_PROVIDER_ID, {"provider_id": provider_message_id}).first()
        return sms_from_row(row) if row else None

    def failed(self, *, limit: int) -> list[SmsMessage]:
        return [sms_from_row(row) for row in self._batch.run(_FAILED, {"limit": limit})]

    def summary(self, now: datetime) -> ports.OutboxSummary:
        rows = self._batch.run(_SUMMARY, {"now": now}).all()
        queued = next((row for row in rows if row.status == SmsStatus.QUEUED.value), None)
        return ports.OutboxSummary(
            by_status={SmsStatus(row.status): row.messages for row in rows},
            due=queued.due if queued else 0,
            oldest_due_at=queued.oldest_due_at if queued else None)


class SqlAlchemyIncomingMessages(ports.IncomingMessages):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def add(self, message: IncomingSms) -> None:
        self._batch.insert(incoming_sms, incoming_values(message))

    def get_by_provider_id(self, provider_message_id: str) -> IncomingSms | None:
        row = self._batch.run(_INCOMING_BY_PROVIDER_ID,
                              {"provider_id": provider_message_id}).first()
        return incoming_from_row(row) if row else None

    def for_order(self, order_id: UUID) -> list[IncomingSms]:
        rows = self._batch.run(_REPLIES_TO_ORDER, {"order_id": order_id})
        return [incoming_from_row(row) for row in rows]


def sms_from_row(row: Any) -> SmsMessage:
    return SmsMessage(
        id=row.id,
        order_id=row.order_id,
        kind=SmsKind(row.kind),
        recipient=PhoneNumber(row.recipient),
        text=row.text,
        status=SmsStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        provider_message_id=row.provider_message_id,
        sent_at=row.sent_at,
        created_at=row.created_at,
    )


def sms_values(message: SmsMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "order_id": message.order_id,
        "kind": message.kind.value,
        "recipient": message.recipient.e164,
        "text": message.text,
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "provider_message_id": message.provider_message_id,
        "sent_at": message.sent_at,
        "created_at": message.created_at,
    }


def incoming_from_row(row: Any) -> IncomingSms:
    return IncomingSms(
        id=row.id, provider_message_id=row.provider_message_id, sender=row.sender,
        text=row.text, received_at=row.received_at, outcome=ReplyOutcome(row.outcome),
        order_id=row.order_id,
    )


def incoming_values(message: IncomingSms) -> dict[str, Any]:
    return {
        "id": message.id, "provider_message_id": message.provider_message_id,
        "sender": message.sender, "text": message.text, "received_at": message.received_at,
        "outcome": message.outcome.value, "order_id": message.order_id,
    }

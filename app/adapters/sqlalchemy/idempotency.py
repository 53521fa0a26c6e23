"""Idempotency keys: the first answer to a request, for its repeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select

from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.tables import idempotency_keys
from app.services import ports

_GET = select(idempotency_keys).where(idempotency_keys.c.owner == bindparam("owner"),
                                      idempotency_keys.c.key == bindparam("key"))
_OLD = delete(idempotency_keys).where(idempotency_keys.c.created_at < bindparam("when"))


class SqlAlchemyIdempotencyKeys(ports.IdempotencyKeys):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def get(self, owner: str, key: str) -> ports.IdempotencyRecord | None:
        row = self._batch.run(_GET, {"owner": owner, "key": key}).first()
        return record_from_row(row) if row else None

    def add(self, record: ports.IdempotencyRecord) -> None:
        self._batch.insert(idempotency_keys, record_values(record))

    def remove_created_before(self, when: datetime) -> int:
        return self._batch.run(_OLD, {"when": when}).rowcount


def record_from_row(row: Any) -> ports.IdempotencyRecord:
    return ports.IdempotencyRecord(owner=row.owner, key=row.key, fingerprint=row.fingerprint,
                                   order_id=row.order_id, notification_id=row.notification_id,
                                   created_at=row.created_at)


def record_values(record: ports.IdempotencyRecord) -> dict[str, Any]:
    return {"owner": record.owner, "key": record.key, "fingerprint": record.fingerprint,
            "order_id": record.order_id, "notification_id": record.notification_id,
            "created_at": record.created_at}

"""Revoked tokens and token families, refused until they expire anyway."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, delete, select

from app.adapters.sqlalchemy.batch import Batch
from app.adapters.sqlalchemy.tables import revoked_tokens, users
from app.domain.users import Role
from app.services import ports

_CONTAINS = select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == bindparam("jti"))
# Every request with a token asks this: whether it or its family was revoked and its
# holder's role now.
_CHECK = select(
    select(revoked_tokens.c.jti).where(
        revoked_tokens.c.jti.in_([bindparam("jti"), bindparam("family")])).exists()
    .label("revoked"),
    select(users.c.role).where(users.c.id == bindparam("user_id")).scalar_subquery()
    .label("role"),
)
_EXPIRED = delete(revoked_tokens).where(revoked_tokens.c.expires_at < bindparam("now"))


class SqlAlchemyRevokedTokens(ports.RevokedTokens):
    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def add(self, jti: str, *, expires_at: datetime) -> None:
        self._batch.insert(revoked_tokens, {"jti": jti, "expires_at": expires_at})

    def contains(self, jti: str) -> bool:
        return self._batch.run(_CONTAINS, {"jti": jti}).first() is not None

    def check(self, jti: str, family: str, *, issued_to: UUID | None
              ) -> tuple[bool, Role | None]:
        row = self._batch.run(_CHECK, {"jti": jti, "family": family,
                                       "user_id": issued_to}).one()
        return bool(row.revoked), Role(row.role) if row.role else None

    def remove_expired(self, now: datetime) -> int:
        return self._batch.run(_EXPIRED, {"now": now}).rowcount

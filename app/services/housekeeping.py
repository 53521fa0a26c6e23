"""Forgetting what the service no longer needs to remember."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.services.ports import Clock, UnitOfWork

# How long a repeated request with the same Idempotency-Key gets the first answer back.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Forgotten:
    idempotency_keys: int
    revoked_tokens: int


def forget_expired(*, uow: UnitOfWork, clock: Clock) -> Forgotten:
    """Idempotency keys older than a day, and revocations of tokens that expired anyway."""
    now = clock()
    with uow:
        keys = uow.idempotency_keys.remove_created_before(now - IDEMPOTENCY_KEY_LIFETIME)
        tokens = uow.revoked_tokens.remove_expired(now)
        uow.commit()
        return Forgotten(idempotency_keys=keys, revoked_tokens=tokens)

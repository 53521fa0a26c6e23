"""Sending an SMS: the gateway port, what a send can come to, and when to try again."""

from __future__ import annotations

import abc
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias


@dataclass(frozen=True)
class Sent:
    """The gateway accepted the message: it must never be sent again."""

    provider_message_id: str
    cost: str | None = None


@dataclass(frozen=True)
class TransientFailure:
    """Not sent this time, for a reason that may pass: worth trying again later.

    ``pushback`` says the gateway asked for less (it throttled, failed or did not answer in
    time) and ``retry_after`` how many seconds it asked to be left alone: news for the pace
    of sending, not part of what became of the message, so outcomes compare without them.
    """

    reason: str
    pushback: bool = field(default=False, compare=False)
    retry_after: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PermanentFailure:
    """Refused for a reason that retrying cannot change, such as an invalid number."""

    reason: str


SendOutcome: TypeAlias = Sent | TransientFailure | PermanentFailure


class SmsGateway(abc.ABC):
    """Hands one text to an SMS provider for one recipient; many sends may be in flight."""

    @abc.abstractmethod
    async def send(self, to: str, text: str) -> SendOutcome:
        """Send ``text`` to the E.164 number ``to``; failures are outcomes, never exceptions."""

    async def aclose(self) -> None:  # noqa: B027 - most gateways hold nothing to release
        """Let go of connections; the next send opens new ones (in whatever event loop)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff, capped, with jitter, for a bounded number of attempts.

    The delay after the n-th failed attempt is ``base_delay * factor ** (n - 1)``, capped at
    ``max_delay``; ``jitter`` is the share of it drawn at random (1.0 is full jitter, 0.5
    equal jitter), so the wait falls in ``[delay * (1 - jitter), delay]``.
    """

    base_delay: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base_delay <= timedelta(0) or self.max_delay < self.base_delay:
            raise ValueError("RetryPolicy needs 0 < base_delay <= max_delay.")
        if self.factor < 1:
            raise ValueError("RetryPolicy factor must be at least 1.")
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy max_attempts must be at least 1.")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy jitter must be between 0 and 1.")

    def next_attempt_at(
        self, attempts: int, now: datetime, *, rand: Callable[[], float] = random.random
    ) -> datetime | None:
        """When to try again after ``attempts`` failed attempts; None once they are used up."""
        if attempts < 1:
            raise ValueError("next_attempt_at is asked after at least one attempt.")
        if attempts >= self.max_attempts:
            return None
        delay = self._capped_delay(attempts)
        return now + delay * (1 - self.jitter * rand())

    def _capped_delay(self, attempts: int) -> timedelta:
        cap = self.max_delay.total_seconds()
        try:
            seconds = self.base_delay.total_seconds() * self.factor ** (attempts - 1)
        except OverflowError:
            # a large factor over many attempts leaves the float range, far beyond any cap
            seconds = cap
        return timedelta(seconds=min(seconds, cap))

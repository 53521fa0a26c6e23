"""Sending what the outbox holds: claim due messages, send them, record what happened."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from app.domain.notifications import SmsMessage, SmsStatus
from app.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from app.services.sms import PermanentFailure, RetryPolicy, SendOutcome, Sent, SmsGateway

log = logging.getLogger(__name__)

# Africa's Talking delivery-report statuses that are final and bad for the message.
UNDELIVERED_REPORTS = {"Failed", "Rejected", "AbsentSubscriber", "Expired"}


def claim_due_messages(*, uow: UnitOfWork, clock: Clock, limit: int, lease: timedelta
                       ) -> list[SmsMessage]:
    """Take up to ``limit`` due messages for this worker until the lease runs out."""
    now = clock()
    with uow:
        batch = uow.outbox.lock_due(now, limit=limit)
        for message in batch:
            message.claim(lease_until=now + lease)
            uow.outbox.save(message)
        uow.commit()
        return batch


def record_outcomes(outcomes: Sequence[tuple[UUID, SendOutcome]], *, uow: UnitOfWork,
                    clock: Clock, policy: RetryPolicy) -> list[SmsMessage]:
    """Each message sent, tried again later with backoff, or failed for good: the sends that
    finished together are recorded in one transaction."""
    now = clock()
    with uow:
        recorded = []
        for message_id, outcome in outcomes:
            message = uow.outbox.get(message_id)
            assert message is not None, "claimed messages are never deleted"
            match outcome:
                case Sent(provider_message_id=provider_id):
                    message.mark_sent(provider_id, at=now)
                case PermanentFailure(reason=reason):
                    message.fail(reason=reason)
                case _:
                    retry_at = policy.next_attempt_at(message.attempts, now)
                    if retry_at is None:
                        message.fail(reason=f"{outcome.reason} (gave up after "
                                            f"{message.attempts} attempts)")
                    else:
                        message.retry_at(retry_at, reason=outcome.reason)
            uow.outbox.save(message)
            recorded.append(message)
        uow.commit()
        return recorded


def record_delivery_report(provider_message_id: str, status: str, failure_reason: str | None,
                           *, uow: UnitOfWork) -> bool:
    """Apply a gateway's delivery report; False when the message is not ours."""
    with uow:
        message = uow.outbox.get_by_provider_id(provider_message_id)
        if message is None:
            return False
        if status == "Success":
            message.mark_delivered()
        elif status in UNDELIVERED_REPORTS:
            message.mark_undelivered(reason=f"{status}: {failure_reason or 'no reason given'}")
        uow.outbox.save(message)
        uow.commit()
        return True


def requeue_failed(*, uow: UnitOfWork, clock: Clock, limit: int = 10_000) -> int:
    """Put failed messages back in the queue, with fresh attempts; returns how many."""
    with uow:
        failed = uow.outbox.failed(limit=limit)
        for message in failed:
            message.requeue(at=clock())
            uow.outbox.save(message)
        uow.commit()
        return len(failed)


def outbox_counts(*, uow: UnitOfWork) -> dict[SmsStatus, int]:
    with uow:
        return uow.outbox.count_by_status()


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 8
    lease: timedelta = timedelta(minutes=5)
    poll_interval: float = 1.0


class OutboxWorker:
    """Drains the outbox through a gateway, ``concurrency`` sends at a time.

    Slots are refilled as sends finish, so one slow message never holds up the rest, and
    every message claimed is sent and recorded before the worker stops: stopping never
    abandons a message in hand.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: SmsGateway, clock: Clock,
                 policy: RetryPolicy, settings: WorkerSettings) -> None:
        self._uow = uow
        self._gateway = gateway
        self._clock = clock
        self._policy = policy
        self._settings = settings
        # Claiming costs a transaction: wait until half the slots are free, not just one.
        self._refill_at = max(1, settings.concurrency // 2)
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency,
                                        thread_name_prefix="sms-send")

    def drain(self) -> int:
        """Send until nothing is due; returns how many messages were handled."""
        return self.run(threading.Event(), until_idle=True)

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> int:
        """Send until ``stop`` is set (or, with ``until_idle``, until nothing is due)."""
        handled = 0
        in_flight: set[Future[tuple[UUID, SendOutcome] | None]] = set()
        while True:
            free = self._settings.concurrency - len(in_flight)
            if not stop.is_set() and (free >= self._refill_at or not in_flight):
                in_flight |= {self._pool.submit(self._send, message)
                              for message in self._claim(free, raise_errors=until_idle)}
            if not in_flight:
                if stop.is_set() or until_idle:
                    return handled
                stop.wait(self._settings.poll_interval)
                continue
            done, in_flight = wait(in_flight, timeout=self._settings.poll_interval,
                                   return_when=FIRST_COMPLETED)
            handled += len(done)
            self._record([sent for future in done if (sent := future.result()) is not None])

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _claim(self, limit: int, *, raise_errors: bool) -> list[SmsMessage]:
        try:
            return claim_due_messages(uow=self._uow(), clock=self._clock, limit=limit,
                                      lease=self._settings.lease)
        except Exception:
            if raise_errors:
                raise
            # The database is away or a bug bit: messages stay queued; try again shortly.
            log.exception("claiming due messages failed; trying again shortly")
            return []

    def _send(self, message: SmsMessage) -> tuple[UUID, SendOutcome] | None:
        try:
            return message.id, self._gateway.send(message.recipient.e164, message.text)
        except Exception:
            # Unrecorded, the message is sent again when its lease runs out.
            log.exception("sms %s: sending failed", message.id)
            return None

    def _record(self, outcomes: list[tuple[UUID, SendOutcome]]) -> None:
        if not outcomes:
            return
        try:
            recorded = record_outcomes(outcomes, uow=self._uow(), clock=self._clock,
                                       policy=self._policy)
        except Exception:
            # Unrecorded, the messages are sent again when their lease runs out.
            log.exception("recording %s sms outcomes failed", len(outcomes))
            return
        for message in recorded:
            log.info("sms %s to %s: %s (attempt %s)%s", message.id, message.recipient,
                     message.status, message.attempts,
                     f" {message.last_error}" if message.last_error else "")

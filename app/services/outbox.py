"""Sending what the outbox holds: claim due messages, send them, record what happened."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
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


def record_outcome(message_id: UUID, outcome: SendOutcome, *, uow: UnitOfWork, clock: Clock,
                   policy: RetryPolicy) -> SmsMessage:
    """Sent, tried again later with backoff, or failed for good."""
    now = clock()
    with uow:
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
                    message.fail(reason=f"{outcome.reason} (gave up after {message.attempts} "
                                        "attempts)")
                else:
                    message.retry_at(retry_at, reason=outcome.reason)
        uow.outbox.save(message)
        uow.commit()
        return message


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
    batch_size: int = 20
    concurrency: int = 8
    lease: timedelta = timedelta(minutes=5)
    poll_interval: float = 1.0


class OutboxWorker:
    """Drains the outbox through a gateway, several sends at a time.

    Each claimed message is sent and its outcome recorded before the batch ends, so stopping
    between batches never abandons a message in hand.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: SmsGateway, clock: Clock,
                 policy: RetryPolicy, settings: WorkerSettings) -> None:
        self._uow = uow
        self._gateway = gateway
        self._clock = clock
        self._policy = policy
        self._settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency,
                                        thread_name_prefix="sms-send")

    def send_batch(self) -> int:
        """Claim one batch, send it, record every outcome; returns how many were handled."""
        batch = claim_due_messages(uow=self._uow(), clock=self._clock,
                                   limit=self._settings.batch_size, lease=self._settings.lease)
        list(self._pool.map(self._send, batch))
        return len(batch)

    def drain(self) -> int:
        """Send until nothing is due; returns how many messages were handled."""
        handled = 0
        while sent := self.send_batch():
            handled += sent
        return handled

    def run(self, stop: threading.Event) -> None:
        """Send batches until ``stop`` is set, waiting ``poll_interval`` when idle."""
        while not stop.is_set():
            try:
                idle = self.send_batch() == 0
            except Exception:
                # The database or a bug; the messages stay queued. Back off, don't die.
                log.exception("sending a batch failed; trying again shortly")
                idle = True
            if idle:
                stop.wait(self._settings.poll_interval)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _send(self, message: SmsMessage) -> None:
        outcome = self._gateway.send(message.recipient.e164, message.text)
        recorded = record_outcome(message.id, outcome, uow=self._uow(), clock=self._clock,
                                  policy=self._policy)
        log.info("sms %s to %s: %s (attempt %s)%s", message.id, message.recipient,
                 recorded.status, recorded.attempts,
                 f" {recorded.last_error}" if recorded.last_error else "")

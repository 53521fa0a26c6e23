"""Sending what the outbox holds: claim due messages, send them, record what happened."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from app.domain.notifications import SmsMessage
from app.services.errors import StorageUnavailable
from app.services.ports import Clock, OutboxSummary, OutboxWakeup, UnitOfWork, UnitOfWorkFactory
from app.services.sms import (
    PermanentFailure,
    RetryPolicy,
    SendOutcome,
    Sent,
    SmsGateway,
    TransientFailure,
)

log = logging.getLogger(__name__)

# Africa's Talking delivery-report statuses that are final and bad for the message.
UNDELIVERED_REPORTS = {"Failed", "Rejected", "AbsentSubscriber", "Expired"}

# A Retry-After longer than this counts as this: no answer stops the worker for hours.
LONGEST_PAUSE = timedelta(minutes=2)
# Claims and records are a transaction each: taken at most this often (seconds), so that
# messages arriving one by one are claimed, and answers recorded, a few at a time.
CLAIM_EVERY = 0.05
RECORD_EVERY = 0.1
# After a failed record, the next try (the answers wait in memory, within their lease).
RECORD_RETRY_SECONDS = 1.0
# How often a worker running until stopped looks at its stop signal.
STOP_CHECK_SECONDS = 0.1


def claim_due_messages(*, uow: UnitOfWork, clock: Clock, limit: int, lease: timedelta
                       ) -> list[SmsMessage]:
    """Take up to ``limit`` due messages for this worker until the lease runs out."""
    now = clock()
    with uow:
        batch = uow.outbox.claim_due(now, lease_until=now + lease, limit=limit)
        uow.commit()
        return batch


@dataclass(frozen=True)
class Answer:
    """What the gateway said about a claimed message, and when."""

    message: SmsMessage
    outcome: SendOutcome
    at: datetime


def settle(answer: Answer, policy: RetryPolicy) -> SmsMessage:
    """The claimed message as its answer leaves it: sent, tried again later with backoff (not
    before the gateway asked), or failed for good. The claimed message is left as it was."""
    message, outcome = replace(answer.message), answer.outcome
    match outcome:
        case Sent(provider_message_id=provider_id):
            message.mark_sent(provider_id, at=answer.at)
        case PermanentFailure(reason=reason):
            message.fail(reason=reason)
        case TransientFailure(reason=reason, retry_after=retry_after):
            retry_at = policy.next_attempt_at(message.attempts, answer.at)
            if retry_at is None:
                message.fail(reason=f"{reason} (gave up after {message.attempts} attempts)")
            else:
                if retry_after:
                    asked = min(timedelta(seconds=retry_after), LONGEST_PAUSE)
                    retry_at = max(retry_at, answer.at + asked)
                message.retry_at(retry_at, reason=reason)
    return message


def record_outcomes(answers: Sequence[Answer], *, uow: UnitOfWork, policy: RetryPolicy
                    ) -> list[SmsMessage]:
    """What became of each message: the answers that came together are recorded in one
    statement and one transaction."""
    settled = [settle(answer, policy) for answer in answers]
    with uow:
        uow.outbox.record(settled)
        uow.commit()
    return settled


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


def outbox_summary(*, uow: UnitOfWork, clock: Clock) -> OutboxSummary:
    """Messages by status, and the queue waiting for a worker now."""
    with uow:
        return uow.outbox.summary(clock())


class Polling(OutboxWakeup):
    """No news of new messages: the worker looks for them every ``timeout`` seconds."""

    async def wait(self, timeout: float) -> bool:
        await asyncio.sleep(timeout)
        return False


class Pace:
    """How many sends may be in flight: as many as allowed until the gateway pushes back.

    Additive increase, multiplicative decrease. A pushback (throttled, a server error, no
    answer in time) halves the limit, once per round: the sends started since the last
    decrease, so that a burst of failures from one overload counts once. Every other answer
    to a send of the current round adds one back, up to ``most``: after a brief hiccup the
    worker is back at full speed within a few round trips, while a gateway that keeps
    pushing back holds it where pushbacks and answers balance. A Retry-After starts no send
    until it has passed.
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self.limit = most
        self.round = 0
        self.paused_until = 0.0

    def room(self, in_flight: int, now: float) -> int:
        """How many more sends may start at ``now`` (seconds, on any monotonic clock)."""
        if now < self.paused_until:
            return 0
        return max(0, self.limit - in_flight)

    def answered(self, outcome: SendOutcome, *, started_in: int, now: float) -> None:
        """Take in the answer to a send started in round ``started_in``."""
        if isinstance(outcome, TransientFailure) and outcome.pushback:
            if started_in == self.round:
                self.limit = max(1, self.limit // 2)
                self.round += 1
            if outcome.retry_after:
                pause = min(outcome.retry_after, LONGEST_PAUSE.total_seconds())
                self.paused_until = max(self.paused_until, now + pause)
        elif started_in == self.round and self.limit < self.most:
            self.limit += 1


class WorkerMetrics:
    """What a worker tells of itself as it goes. This one tells nobody; the entrypoints'
    tells Prometheus."""

    def sending(self, in_flight: int, limit: int) -> None:
        """Sends in flight now, and how many the pace allows."""

    def answered(self, outcome: SendOutcome, *, since_queued: timedelta) -> None:
        """The gateway answered a send, ``since_queued`` after its message was queued."""


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 200
    lease: timedelta = timedelta(minutes=5)
    poll_interval: float = 1.0


class OutboxWorker:
    """Drains the outbox through a gateway, up to ``concurrency`` sends in flight.

    Sends run on one event loop; claiming and recording, synchronous database work, run in
    a thread beside it, one at a time (as SQLite's one writer needs), each one statement for
    a batch: claims take as many due messages as
    there is room for, and the answers that came in while the last record was written are
    recorded together. New messages wake the worker (``wakeup``), or it looks every
    ``poll_interval`` seconds. Every message claimed is sent and recorded before the worker
    stops: stopping never abandons a message in hand.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: SmsGateway, clock: Clock,
                 policy: RetryPolicy, settings: WorkerSettings,
                 wakeup: OutboxWakeup | None = None, metrics: WorkerMetrics | None = None
                 ) -> None:
        self.uow = uow
        self.gateway = gateway
        self.clock = clock
        self.policy = policy
        self.settings = settings
        self.wakeup = wakeup or Polling()
        self.metrics = metrics or WorkerMetrics()

    def drain(self) -> int:
        """Send until nothing is due; returns how many messages were handled."""
        return asyncio.run(self._serve(None))

    def run(self, stop: threading.Event) -> int:
        """Send until ``stop`` is set; returns how many messages were handled."""
        return asyncio.run(self._serve(stop))

    async def _serve(self, stop: threading.Event | None) -> int:
        run = _Run(self, until_idle=stop is None)
        helpers = [asyncio.create_task(run.watch_wakeups())]
        if stop is not None:
            helpers.append(asyncio.create_task(run.stop_when_set(stop)))
        try:
            return await run.main()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.gateway.aclose()
            await self.wakeup.aclose()


class _Run:
    """One run of a worker, from start to stop (or, draining, until nothing is due)."""

    def __init__(self, worker: OutboxWorker, *, until_idle: bool) -> None:
        self.worker = worker
        self.until_idle = until_idle
        self.loop = asyncio.get_running_loop()
        self.pace = Pace(worker.settings.concurrency)
        self.sends: set[asyncio.Task[None]] = set()
        # The database work, off the event loop.
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sms-outbox-db")
        self.recorder = _Recorder(worker, self.database)
        self.changed = asyncio.Event()
        self.stopping = False
        self.more_due = True  # whether a claim may find messages
        self.next_claim_at = 0.0
        self.handled = 0

    async def main(self) -> int:
        recording = asyncio.create_task(self.recorder.run())
        try:
            await self._send_until_done()
        finally:
            if self.sends:
                await asyncio.wait(self.sends)
            self.recorder.close()
            await recording
            self.database.shutdown(wait=False)
        return self.handled

    async def _send_until_done(self) -> None:
        while True:
            self.changed.clear()
            if self.stopping:
                return
            now = self.loop.time()
            room = self.pace.room(len(self.sends), now)
            if room and self.more_due and now >= self.next_claim_at:
                self.next_claim_at = now + CLAIM_EVERY
                await self._claim(room)
                continue
            if self.until_idle and not self.sends and not self.more_due:
                return
            await self._wait_for_change(room, now)

    async def _wait_for_change(self, room: int, now: float) -> None:
        """Until a send ends, messages are queued, the worker is stopped, or the next claim
        or the end of a pause comes due."""
        if room and self.more_due:
            timeout: float | None = self.next_claim_at - now
        elif self.more_due and self.pace.paused_until > now:
            timeout = self.pace.paused_until - now
        else:
            timeout = None
        try:
            async with asyncio.timeout(timeout):
                await self.changed.wait()
        except TimeoutError:
            pass

    async def _claim(self, room: int) -> None:
        worker = self.worker
        try:
            batch = await self.loop.run_in_executor(self.database, partial(
                claim_due_messages, uow=worker.uow(), clock=worker.clock, limit=room,
                lease=worker.settings.lease))
        except Exception:
            if self.until_idle:
                raise
            # The database is away or a bug bit: messages stay queued; the next poll tries.
            log.exception("claiming due messages failed; trying again shortly")
            self.more_due = False
            return
        # A full batch: more may be waiting.
        self.more_due = len(batch) == room
        for message in batch:
            task = asyncio.create_task(self._send(message, self.pace.round))
            self.sends.add(task)
            task.add_done_callback(self._sent)
        worker.metrics.sending(len(self.sends), self.pace.limit)

    async def _send(self, message: SmsMessage, started_in: int) -> None:
        worker = self.worker
        try:
            outcome = await worker.gateway.send(message.recipient.e164, message.text)
        except Exception:
            # Unrecorded, the message is sent again when its lease runs out.
            log.exception("sms %s: sending failed", message.id)
            return
        answer = Answer(message, outcome, at=worker.clock())
        self.pace.answered(outcome, started_in=started_in, now=self.loop.time())
        worker.metrics.answered(outcome, since_queued=answer.at - message.created_at)
        self.recorder.add(answer)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self.sends.discard(task)
        self.handled += 1
        self.worker.metrics.sending(len(self.sends), self.pace.limit)
        self.changed.set()

    async def watch_wakeups(self) -> None:
        while True:
            await self.worker.wakeup.wait(self.worker.settings.poll_interval)
            self.more_due = True
            self.changed.set()

    async def stop_when_set(self, stop: threading.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(STOP_CHECK_SECONDS)
        self.stopping = True
        self.changed.set()


class _Recorder:
    """Records answers in batches, one batch at a time: the answers that come in while one
    is written make the next."""

    def __init__(self, worker: OutboxWorker, database: ThreadPoolExecutor) -> None:
        self.worker = worker
        self.database = database
        self.waiting: list[Answer] = []
        self.arrived = asyncio.Event()
        self.closing = False

    def add(self, answer: Answer) -> None:
        self.waiting.append(answer)
        self.arrived.set()

    def close(self) -> None:
        """Write what waits, then stop."""
        self.closing = True
        self.arrived.set()

    async def run(self) -> None:
        while True:
            await self.arrived.wait()
            if not self.closing:
                await asyncio.sleep(RECORD_EVERY)
            self.arrived.clear()
            batch, self.waiting = self.waiting, []
            await self._write(batch)
            if self.closing and not self.waiting:
                return

    async def _write(self, batch: list[Answer]) -> None:
        worker = self.worker
        while batch:
            try:
                recorded = await asyncio.get_running_loop().run_in_executor(
                    self.database, partial(record_outcomes, batch, uow=worker.uow(),
                                           policy=worker.policy))
            except StorageUnavailable:
                log.warning("recording %s sms outcomes failed: the database is away; trying "
                            "again shortly", len(batch))
                await asyncio.sleep(RECORD_RETRY_SECONDS)
                # Past its lease a message may be another worker's: it is sent again.
                now = worker.clock()
                batch = [a for a in batch
                         if a.message.next_attempt_at and a.message.next_attempt_at > now]
                continue
            except Exception:
                # Unrecorded, the messages are sent again when their lease runs out.
                log.exception("recording %s sms outcomes failed", len(batch))
                return
            if log.isEnabledFor(logging.INFO):
                for message in recorded:
                    log.info("sms %s to %s: %s (attempt %s)%s", message.id, message.recipient,
                             message.status, message.attempts,
                             f" {message.last_error}" if message.last_error else "")
            return

import threading
import time
from datetime import timedelta

import pytest

from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.values import PhoneNumber
from app.services import outbox
from app.services.limits import Limits, queue_sms
from app.services.sms import PermanentFailure, RetryPolicy, Sent, TransientFailure
from tests.unit.fakes import FakeClock, FakeUnitOfWork, RecordingSmsGateway

WANJIKU = "+254719485369"
POLICY = RetryPolicy(base_delay=timedelta(seconds=30), max_attempts=3, jitter=0)


def queue(uow, clock, text="Your order ABC123 is recorded.", to=WANJIKU):
    message = SmsMessage(recipient=PhoneNumber(to), text=text, created_at=clock())
    uow.outbox.add(message)
    return message


def worker(uow, clock, gateway, concurrency=2):
    return outbox.OutboxWorker(uow=lambda: uow, gateway=gateway, clock=clock, policy=POLICY,
                               settings=outbox.WorkerSettings(concurrency=concurrency))


class TestSending:
    def test_due_messages_are_sent_and_recorded(self):
        uow, clock, gateway = FakeUnitOfWork(), FakeClock(), RecordingSmsGateway()
        message = queue(uow, clock)

        handled = worker(uow, clock, gateway).drain()

        assert handled == 1
        assert gateway.messages_to(WANJIKU) == ["Your order ABC123 is recorded."]
        stored = uow.outbox.get(message.id)
        assert stored.status is SmsStatus.SENT
        assert stored.provider_message_id == "fake-1"
        assert stored.sent_at == clock.now

    def test_a_message_is_not_sent_before_it_is_due(self):
        uow, clock, gateway = FakeUnitOfWork(), FakeClock(), RecordingSmsGateway()
        message = queue(uow, clock)
        message.next_attempt_at = clock.now + timedelta(minutes=1)
        uow.outbox.save(message)

        assert worker(uow, clock, gateway).drain() == 0
        assert gateway.messages == []

    def test_a_transient_failure_is_tried_again_later(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        gateway = RecordingSmsGateway([TransientFailure("HTTP 503 from gateway")])
        message = queue(uow, clock)

        worker(uow, clock, gateway).drain()

        stored = uow.outbox.get(message.id)
        assert stored.status is SmsStatus.QUEUED
        assert stored.last_error == "HTTP 503 from gateway"
        assert stored.next_attempt_at == clock.now + timedelta(seconds=30)
        clock.advance(seconds=30)
        worker(uow, clock, gateway).drain()
        assert uow.outbox.get(message.id).status is SmsStatus.SENT
        assert len(gateway.messages_to(WANJIKU)) == 2

    def test_retries_back_off_then_give_up(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        gateway = RecordingSmsGateway([TransientFailure("timeout")] * 3)
        message = queue(uow, clock)

        waits = []
        for _ in range(3):
            before = clock.now
            worker(uow, clock, gateway).drain()
            stored = uow.outbox.get(message.id)
            if stored.status is SmsStatus.QUEUED:
                waits.append(stored.next_attempt_at - before)
                clock.now = stored.next_attempt_at

        assert waits == [timedelta(seconds=30), timedelta(seconds=60)]
        assert stored.status is SmsStatus.FAILED
        assert "gave up after 3 attempts" in stored.last_error

    def test_a_permanent_failure_is_not_retried(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        gateway = RecordingSmsGateway([PermanentFailure("InvalidPhoneNumber (403)")])
        message = queue(uow, clock)

        worker(uow, clock, gateway).drain()
        clock.advance(hours=2)
        worker(uow, clock, gateway).drain()

        stored = uow.outbox.get(message.id)
        assert stored.status is SmsStatus.FAILED
        assert stored.last_error == "InvalidPhoneNumber (403)"
        assert len(gateway.messages) == 1

    def test_a_claimed_message_is_left_alone_until_its_lease_runs_out(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        message = queue(uow, clock)
        # A worker claimed it and died before recording anything.
        outbox.claim_due_messages(uow=uow, clock=clock, limit=10, lease=timedelta(minutes=5))
        gateway = RecordingSmsGateway()

        assert worker(uow, clock, gateway).drain() == 0
        clock.advance(minutes=5)
        assert worker(uow, clock, gateway).drain() == 1
        assert uow.outbox.get(message.id).status is SmsStatus.SENT

    def test_the_oldest_due_messages_are_claimed_first(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        for n in range(3):
            queue(uow, clock, text=f"message {n}")
            clock.advance(seconds=1)

        claimed = outbox.claim_due_messages(uow=uow, clock=clock, limit=2,
                                            lease=timedelta(minutes=5))

        assert [m.text for m in claimed] == ["message 0", "message 1"]
        assert [m.attempts for m in claimed] == [1, 1]


    def test_sends_that_finish_together_are_recorded_together(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        for n in range(3):
            queue(uow, clock, text=f"message {n}")
        sent, refused, busy = outbox.claim_due_messages(uow=uow, clock=clock, limit=3,
                                                        lease=timedelta(minutes=5))

        recorded = outbox.record_outcomes(
            [outbox.Answer(sent, Sent("at-1"), at=clock()),
             outbox.Answer(refused, PermanentFailure("DND: blocked"), at=clock()),
             outbox.Answer(busy, TransientFailure("HTTP 503 from gateway"), at=clock())],
            uow=uow, policy=POLICY)

        assert [m.id for m in recorded] == [sent.id, refused.id, busy.id]
        assert [uow.outbox.get(m.id).status for m in (sent, refused, busy)] == [
            SmsStatus.SENT, SmsStatus.FAILED, SmsStatus.QUEUED]
        assert uow.outbox.records == 1
        assert uow.committed

    def test_the_time_sent_is_when_the_gateway_answered(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        queue(uow, clock)
        [claimed] = outbox.claim_due_messages(uow=uow, clock=clock, limit=1,
                                              lease=timedelta(minutes=5))
        answered_at = clock.now + timedelta(seconds=1)
        clock.advance(seconds=3)

        [recorded] = outbox.record_outcomes([outbox.Answer(claimed, Sent("at-1"), answered_at)],
                                            uow=uow, policy=POLICY)

        assert recorded.sent_at == answered_at

    def test_an_answer_recorded_after_the_message_was_claimed_again_changes_nothing(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        message = queue(uow, clock)
        [first] = outbox.claim_due_messages(uow=uow, clock=clock, limit=1,
                                            lease=timedelta(minutes=5))
        clock.advance(minutes=5)  # the first worker's lease ran out: another takes it
        [second] = outbox.claim_due_messages(uow=uow, clock=clock, limit=1,
                                             lease=timedelta(minutes=5))
        outbox.record_outcomes([outbox.Answer(second, Sent("at-2"), clock())], uow=uow,
                               policy=POLICY)

        outbox.record_outcomes([outbox.Answer(first, TransientFailure("timeout"), clock())],
                               uow=uow, policy=POLICY)

        stored = uow.outbox.get(message.id)
        assert (stored.status, stored.provider_message_id) == (SmsStatus.SENT, "at-2")

    def test_a_retry_waits_at_least_as_long_as_the_gateway_asked(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        message = queue(uow, clock)
        gateway = RecordingSmsGateway([TransientFailure("HTTP 429 from gateway", pushback=True,
                                                        retry_after=90)])

        worker(uow, clock, gateway).drain()

        assert uow.outbox.get(message.id).next_attempt_at == clock.now + timedelta(seconds=90)

    def test_held_back_messages_wait_for_their_day(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        limits = Limits(sms_per_number_per_day=2)
        for n in range(3):
            queue_sms(SmsMessage(recipient=PhoneNumber(WANJIKU), text=f"order {n}",
                                 created_at=clock()), uow=uow, limits=limits)
        gateway = RecordingSmsGateway()

        worker(uow, clock, gateway).drain()
        today = sorted(gateway.messages_to(WANJIKU))
        clock.advance(days=1)
        worker(uow, clock, gateway).drain()

        assert today == ["order 0", "order 1"]
        assert gateway.messages_to(WANJIKU)[2:] == ["order 2"]


class TestThroughput:
    def test_sends_wait_for_the_gateway_side_by_side_up_to_the_concurrency(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        for n in range(60):
            queue(uow, clock, text=f"message {n}")
        gateway = RecordingSmsGateway(latency=0.05)

        started = time.monotonic()
        handled = worker(uow, clock, gateway, concurrency=20).drain()

        assert handled == 60
        assert gateway.most_in_flight == 20
        assert time.monotonic() - started < 1.0  # three rounds of 50 ms, not sixty
        assert uow.outbox.summary(clock()).by_status == {SmsStatus.SENT: 60}

    def test_claims_and_records_are_batched(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        for n in range(100):
            queue(uow, clock, text=f"message {n}")

        worker(uow, clock, RecordingSmsGateway(latency=0.01), concurrency=100).drain()

        assert uow.outbox.summary(clock()).by_status == {SmsStatus.SENT: 100}
        assert uow.outbox.claims <= 3  # all that is due, then the look that finds nothing
        assert uow.outbox.records <= 2

    def test_a_worker_told_to_stop_finishes_the_messages_in_hand(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        for n in range(5):
            queue(uow, clock, text=f"message {n}")
        gateway = RecordingSmsGateway(latency=0.3)
        stop = threading.Event()
        running = threading.Thread(target=worker(uow, clock, gateway, concurrency=10).run,
                                   args=(stop,))

        running.start()
        while len(gateway.messages) < 5:
            time.sleep(0.01)
        stop.set()
        running.join(timeout=5)

        assert not running.is_alive()
        assert uow.outbox.summary(clock()).by_status == {SmsStatus.SENT: 5}


class TestPace:
    PUSHBACK = TransientFailure("HTTP 429 from gateway", pushback=True)

    def test_a_pushback_halves_the_sends_in_flight(self):
        pace = outbox.Pace(200)

        pace.answered(self.PUSHBACK, started_in=pace.round, now=0)

        assert pace.limit == 100
        assert pace.room(in_flight=150, now=0) == 0
        assert pace.room(in_flight=40, now=0) == 60

    def test_pushbacks_from_one_round_count_once(self):
        pace = outbox.Pace(200)
        started_in = pace.round

        for _ in range(50):
            pace.answered(self.PUSHBACK, started_in=started_in, now=0)

        assert pace.limit == 100

    def test_each_answer_of_the_current_round_adds_one_back_up_to_the_most(self):
        pace = outbox.Pace(8)
        pace.answered(self.PUSHBACK, started_in=pace.round, now=0)
        stale = pace.round - 1

        pace.answered(Sent("at-1"), started_in=stale, now=0)
        after_stale = pace.limit
        for _ in range(10):
            pace.answered(PermanentFailure("InvalidPhoneNumber (403)"), started_in=pace.round,
                          now=0)

        assert after_stale == 4
        assert pace.limit == 8

    def test_the_limit_never_falls_below_one(self):
        pace = outbox.Pace(4)

        for _ in range(10):
            pace.answered(self.PUSHBACK, started_in=pace.round, now=0)

        assert pace.limit == 1

    def test_retry_after_starts_no_send_until_it_has_passed(self):
        pace = outbox.Pace(10)

        pace.answered(TransientFailure("HTTP 429 from gateway", pushback=True, retry_after=2),
                      started_in=pace.round, now=100.0)

        assert pace.room(in_flight=0, now=101.9) == 0
        assert pace.room(in_flight=0, now=102.0) == 5

    def test_a_retry_after_of_hours_pauses_for_minutes(self):
        pace = outbox.Pace(10)

        pace.answered(TransientFailure("HTTP 503 from gateway", pushback=True,
                                       retry_after=86_400), started_in=pace.round, now=0)

        assert pace.paused_until == outbox.LONGEST_PAUSE.total_seconds()

    @pytest.mark.parametrize("outcome", [TransientFailure("InsufficientBalance (405)"),
                                         Sent("at-1")])
    def test_answers_that_are_no_pushback_leave_the_limit_alone_at_the_most(self, outcome):
        pace = outbox.Pace(10)

        pace.answered(outcome, started_in=pace.round, now=0)

        assert pace.limit == 10


class TestDeliveryReports:
    def sent_message(self, uow, clock):
        message = queue(uow, clock)
        worker(uow, clock, RecordingSmsGateway([Sent("ATXid_1")])).drain()
        return message

    def test_a_success_report_marks_the_message_delivered(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        message = self.sent_message(uow, clock)

        known = outbox.record_delivery_report("ATXid_1", "Success", None, uow=uow)

        assert known
        assert uow.outbox.get(message.id).status is SmsStatus.DELIVERED

    def test_a_failure_report_keeps_the_reason(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        message = self.sent_message(uow, clock)

        outbox.record_delivery_report("ATXid_1", "Failed", "UserInBlacklist", uow=uow)

        stored = uow.outbox.get(message.id)
        assert stored.status is SmsStatus.FAILED
        assert stored.last_error == "Failed: UserInBlacklist"

    def test_a_late_or_repeated_report_does_not_undo_delivery(self):
        uow, clock = FakeUnitOfWork(), FakeClock()
        message = self.sent_message(uow, clock)

        for status in ["Success", "Buffered", "Success", "Failed"]:
            outbox.record_delivery_report("ATXid_1", status, None, uow=uow)

        assert uow.outbox.get(message.id).status is SmsStatus.DELIVERED

    def test_a_report_for_someone_elses_message_is_ignored(self):
        assert not outbox.record_delivery_report("ATXid_unknown", "Success", None,
                                                 uow=FakeUnitOfWork())


def test_failed_messages_can_be_queued_again_with_fresh_attempts():
    uow, clock = FakeUnitOfWork(), FakeClock()
    message = queue(uow, clock)
    worker(uow, clock, RecordingSmsGateway([PermanentFailure("RiskHold (401)")])).drain()

    requeued = outbox.requeue_failed(uow=uow, clock=clock)

    assert requeued == 1
    stored = uow.outbox.get(message.id)
    assert stored.status is SmsStatus.QUEUED
    assert stored.attempts == 0
    assert worker(uow, clock, RecordingSmsGateway()).drain() == 1

from datetime import timedelta

from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.values import PhoneNumber
from app.services import outbox
from app.services.sms import PermanentFailure, RetryPolicy, Sent, TransientFailure
from tests.unit.fakes import FakeClock, FakeUnitOfWork, RecordingSmsGateway

WANJIKU = "+254719485369"
POLICY = RetryPolicy(base_delay=timedelta(seconds=30), max_attempts=3, jitter=0)


def queue(uow, clock, text="Your order ABC123 is recorded.", to=WANJIKU):
    message = SmsMessage(recipient=PhoneNumber(to), text=text, created_at=clock())
    uow.outbox.add(message)
    return message


def worker(uow, clock, gateway):
    return outbox.OutboxWorker(uow=lambda: uow, gateway=gateway, clock=clock, policy=POLICY,
                               settings=outbox.WorkerSettings(concurrency=2))


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
        sent, refused, busy = (queue(uow, clock, text=f"message {n}") for n in range(3))
        outbox.claim_due_messages(uow=uow, clock=clock, limit=3, lease=timedelta(minutes=5))

        recorded = outbox.record_outcomes(
            [(sent.id, Sent("at-1")), (refused.id, PermanentFailure("DND: blocked")),
             (busy.id, TransientFailure("HTTP 503 from gateway"))],
            uow=uow, clock=clock, policy=POLICY)

        assert [m.id for m in recorded] == [sent.id, refused.id, busy.id]
        assert [uow.outbox.get(m.id).status for m in (sent, refused, busy)] == [
            SmsStatus.SENT, SmsStatus.FAILED, SmsStatus.QUEUED]
        assert uow.committed


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

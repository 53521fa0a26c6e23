"""The outbox worker against real databases and a fake Africa's Talking on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import event, text

from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.adapters.sqlalchemy.outbox_wakeup import PostgresOutboxWakeup
from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.values import PhoneNumber
from app.services import outbox
from app.services.sms import PermanentFailure, RetryPolicy, SendOutcome, Sent, SmsGateway
from tests.integration.fake_africastalking import (
    Answer,
    FakeAfricasTalking,
    RecordedRequest,
    accept_all,
    accepted,
)
from tests.integration.live_server import CALLBACK_TOKEN, live_app, settings_for_tests
from tests.integration.test_africastalking_gateway import free_port

WANJIKU = "+254719485369"
QUICK_RETRIES = RetryPolicy(base_delay=timedelta(milliseconds=50),
                            max_delay=timedelta(milliseconds=200), max_attempts=10)
ROOT = Path(__file__).resolve().parents[2]


def at_worker(uow_factory, fake, *, wakeup=None, **settings):
    gateway = AfricasTalkingSmsGateway("sandbox", "test-key", base_url=fake.base_url,
                                       read_timeout=2)
    return outbox.OutboxWorker(
        uow=uow_factory, gateway=gateway, clock=lambda: datetime.now(UTC),
        policy=QUICK_RETRIES,
        settings=outbox.WorkerSettings(**({"concurrency": 4, "poll_interval": 0.05}
                                          | settings)),
        wakeup=wakeup,
    )


def place_order(api, admin, customer, item="Sack of maize"):
    response = api.post("/api/orders/create/", token=admin.access_token,
                        json={"customer_code": customer["code"], "item": item, "amount": "420"})
    assert response.status_code == 201
    return response.json()["order"]


def notification_of(api, admin, order):
    return api.get(f"/api/orders/{order['id']}/", token=admin.access_token).json()[
        "order"]["notification"]


def test_an_order_sms_goes_out_through_africas_talking(api, admin, customer, uow_factory):
    order = place_order(api, admin, customer)
    assert notification_of(api, admin, order)["status"] == "queued"

    with FakeAfricasTalking(otherwise=accept_all()) as fake:
        at_worker(uow_factory, fake).drain()

    [request] = fake.requests
    assert request.path == "/version1/messaging"
    assert request.headers["apiKey"] == "test-key"
    assert request.form["username"] == "sandbox"
    assert request.form["to"] == WANJIKU
    assert "Sack of maize" in request.form["message"]
    assert "KES 420.00" in request.form["message"]
    notification = notification_of(api, admin, order)
    assert notification["status"] == "sent"
    assert notification["attempts"] == 1
    assert notification["sent_at"].endswith("Z")


def test_an_order_placed_while_the_gateway_is_down_goes_out_when_it_is_back(
        api, admin, customer, uow_factory):
    down = Answer(503, "Service Unavailable", "text/plain")
    with FakeAfricasTalking(down, down, down, otherwise=accept_all()) as fake:
        started = time.monotonic()
        order = place_order(api, admin, customer)
        assert time.monotonic() - started < 2
        stop = threading.Event()
        worker = at_worker(uow_factory, fake)
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while notification_of(api, admin, order)["status"] != "sent":
                assert time.monotonic() < deadline, "the SMS never went out"
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join()

    assert len(fake.requests) == 4
    assert notification_of(api, admin, order)["attempts"] == 4


def test_a_permanent_refusal_is_shown_to_the_admin(api, admin, customer, uow_factory):
    from tests.integration.fake_africastalking import refused

    order = place_order(api, admin, customer)

    with FakeAfricasTalking(Answer(201, refused(403, "InvalidPhoneNumber"))) as fake:
        at_worker(uow_factory, fake).drain()

    notification = notification_of(api, admin, order)
    assert notification["status"] == "failed"
    assert "InvalidPhoneNumber" in notification["last_error"]


class TestDeliveryReports:
    url = f"/callbacks/africastalking/delivery-reports/{CALLBACK_TOKEN}"

    def sent_order(self, api, admin, customer, uow_factory):
        order = place_order(api, admin, customer)
        with FakeAfricasTalking(otherwise=accept_all()) as fake:
            at_worker(uow_factory, fake).drain()
        return order

    def test_a_delivery_report_marks_the_sms_delivered_once(
            self, api, admin, customer, uow_factory):
        order = self.sent_order(api, admin, customer, uow_factory)
        report = {"id": "ATXid_1", "status": "Success", "phoneNumber": WANJIKU,
                  "networkCode": "63902", "retryCount": "0"}

        first = api.post(self.url, data=report)
        again = api.post(self.url, data=report)

        assert first.status_code == again.status_code == 200
        assert notification_of(api, admin, order)["status"] == "delivered"

    def test_a_failed_delivery_keeps_the_reason(self, api, admin, customer, uow_factory):
        order = self.sent_order(api, admin, customer, uow_factory)

        api.post(self.url, data={"id": "ATXid_1", "status": "Rejected",
                                 "failureReason": "DeliveryFailure"})

        notification = notification_of(api, admin, order)
        assert notification["status"] == "failed"
        assert notification["last_error"] == "Rejected: DeliveryFailure"

    def test_an_unknown_message_is_acknowledged_and_ignored(self, api):
        response = api.post(self.url, data={"id": "ATXid_other", "status": "Success"})

        assert response.status_code == 200
        assert response.json()["outcome"].startswith("ignored")

    def test_a_wrong_token_is_not_found(self, api):
        response = api.post("/callbacks/africastalking/delivery-reports/guess",
                            data={"id": "ATXid_1", "status": "Success"})

        assert response.status_code == 404


def queue_messages(uow_factory, count):
    now = datetime.now(UTC)
    with uow_factory() as uow:
        for n in range(count):
            uow.outbox.add(SmsMessage(recipient=PhoneNumber(WANJIKU), text=f"message {n}",
                                      created_at=now))
        uow.commit()


def statuses(uow_factory):
    with uow_factory() as uow:
        return uow.outbox.summary(datetime.now(UTC)).by_status


class CountingGateway(SmsGateway):
    """Counts the sends of every worker (each on its own thread and event loop)."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def send(self, to: str, text: str) -> SendOutcome:
        with self._lock:
            self.sent[text] += 1
            return Sent(f"count-{sum(self.sent.values())}")


@pytest.mark.postgres_only  # SQLite runs one worker at a time; SKIP LOCKED is PostgreSQL's
def test_four_workers_side_by_side_send_each_message_exactly_once(uow_factory):
    queue_messages(uow_factory, 2000)
    gateway = CountingGateway()
    workers = [outbox.OutboxWorker(uow=uow_factory, gateway=gateway,
                                   clock=lambda: datetime.now(UTC), policy=QUICK_RETRIES,
                                   settings=outbox.WorkerSettings(concurrency=4))
               for _ in range(4)]

    threads = [threading.Thread(target=worker.drain) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(gateway.sent) == 2000
    assert set(gateway.sent.values()) == {1}
    assert statuses(uow_factory) == {SmsStatus.SENT: 2000}


def test_a_worker_killed_mid_send_loses_nothing(database_url, uow_factory):
    queue_messages(uow_factory, 60)
    with FakeAfricasTalking(otherwise=accept_all(delay=0.03)) as fake:
        env = os.environ | {
            "DATABASE_URL": database_url, "SMS_BACKEND": "africastalking",
            "AT_USERNAME": "sandbox", "AT_API_KEY": "test-key", "AT_BASE_URL": fake.base_url,
            "SMS_WORKER_CONCURRENCY": "4",
            "SMS_WORKER_LEASE_SECONDS": "2", "SMS_SEND_DEADLINE_SECONDS": "1",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024", "LOG_LEVEL": "WARNING",
        }
        flask = [str(Path(sys.executable).parent / "flask"), "--app", "app", "sms-worker"]
        doomed = subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while len(fake.requests) < 15:
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.01)
        # Requests people wait for come first: the worker yields the CPU to them.
        assert os.getpriority(os.PRIO_PROCESS, doomed.pid) == min(
            19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        time.sleep(2.2)  # the dead worker's lease runs out

        subprocess.run([*flask, "--once"], cwd=ROOT, env=env, check=True, timeout=60,
                       capture_output=True)

    received = Counter(request.form["message"] for request in fake.requests)
    assert set(received) == {f"message {n}" for n in range(60)}
    assert statuses(uow_factory) == {SmsStatus.SENT: 60}


@contextmanager
def statements_run(engine, starting):
    """The statements ``engine`` runs in the block that start with ``starting`` (an
    executemany counts once, as it is one call)."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(starting):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


class TestBatches:
    def test_a_claim_is_one_statement_and_a_record_one_more(self, engine, uow_factory):
        queue_messages(uow_factory, 50)
        with statements_run(engine, "UPDATE") as updates:
            claimed = outbox.claim_due_messages(uow=uow_factory(),
                                                clock=lambda: datetime.now(UTC), limit=50,
                                                lease=timedelta(minutes=5))
            claims = len(updates)
            now = datetime.now(UTC)
            outbox.record_outcomes([outbox.Answer(m, Sent(f"ATXid_{n}"), now)
                                    for n, m in enumerate(claimed)],
                                   uow=uow_factory(), policy=QUICK_RETRIES)

        assert len(claimed) == 50
        assert claims == 1
        assert len(updates) == 2
        assert statuses(uow_factory) == {SmsStatus.SENT: 50}

    def test_a_late_record_leaves_a_message_claimed_again_alone(self, uow_factory):
        queue_messages(uow_factory, 1)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        [first] = outbox.claim_due_messages(uow=uow_factory(), clock=clock, limit=1,
                                            lease=timedelta(0))
        [second] = outbox.claim_due_messages(uow=uow_factory(), clock=clock, limit=1,
                                             lease=timedelta(minutes=5))
        outbox.record_outcomes([outbox.Answer(second, Sent("ATXid_2"), clock())],
                               uow=uow_factory(), policy=QUICK_RETRIES)

        outbox.record_outcomes([outbox.Answer(first, PermanentFailure("late"), clock())],
                               uow=uow_factory(), policy=QUICK_RETRIES)

        with uow_factory() as uow:
            stored = uow.outbox.get(second.id)
        assert (stored.status, stored.provider_message_id, stored.attempts) == (
            SmsStatus.SENT, "ATXid_2", 2)


def running(worker):
    """Start ``worker.run`` in a thread; returns the stop function, which waits for it."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()

    def stopped():
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()

    return stopped


def wait_for(condition, *, seconds, why):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.01)


@pytest.mark.postgres_only  # NOTIFY is PostgreSQL's; SQLite's workers poll
class TestWokenByNewMessages:
    def worker(self, uow_factory, fake, database_url):
        # Polling once a minute: only the notification can bring a message out in seconds.
        return at_worker(uow_factory, fake, poll_interval=60,
                         wakeup=PostgresOutboxWakeup(database_url))

    def test_a_queued_message_reaches_the_gateway_within_moments_of_its_commit(
            self, api, admin, customer, uow_factory, database_url):
        with FakeAfricasTalking(otherwise=accept_all()) as fake:
            stop = running(self.worker(uow_factory, fake, database_url))
            try:
                time.sleep(0.5)  # the first look found nothing: the worker sleeps
                committed = time.monotonic()
                place_order(api, admin, customer)
                wait_for(lambda: fake.requests, seconds=5, why="the SMS never went out")
                took = time.monotonic() - committed
            finally:
                stop()

        assert took < 2, took

    def test_after_its_connection_drops_the_worker_listens_again(
            self, api, admin, customer, uow_factory, database_url, engine):
        with FakeAfricasTalking(otherwise=accept_all()) as fake:
            stop = running(self.worker(uow_factory, fake, database_url))
            try:
                time.sleep(0.5)
                with engine.connect() as connection:
                    dropped = connection.execute(text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query = 'LISTEN sms_outbox'"
                    )).all()
                assert len(dropped) == 1
                time.sleep(1.5)  # reconnected after half a second
                place_order(api, admin, customer)
                wait_for(lambda: fake.requests, seconds=5, why="the SMS never went out")
            finally:
                stop()

        assert fake.texts_to(WANJIKU)


class TestBackpressure:
    def test_a_retry_after_holds_every_send_until_it_has_passed(self, uow_factory):
        queue_messages(uow_factory, 6)
        throttled = Answer(429, "Too Many Requests", "text/plain", headers={"Retry-After": "1"})
        arrivals = []

        def answer(request: RecordedRequest) -> Answer:
            arrivals.append(time.monotonic())
            return throttled if len(arrivals) == 1 else accept_all()(request)

        with FakeAfricasTalking(otherwise=answer) as fake:
            stop = running(at_worker(uow_factory, fake, concurrency=1))
            try:
                wait_for(lambda: statuses(uow_factory) == {SmsStatus.SENT: 6}, seconds=10,
                         why="the messages never all went out")
            finally:
                stop()

        assert arrivals[1] - arrivals[0] >= 0.95

    def test_after_a_round_of_server_errors_fewer_sends_go_out_at_once(self, uow_factory):
        queue_messages(uow_factory, 24)
        down = Answer(503, "Service Unavailable", "text/plain")
        arrivals = []

        def answer(request: RecordedRequest) -> Answer:
            arrivals.append(time.monotonic())
            return down if len(arrivals) <= 8 else Answer(201, accepted(f"ATXid_{len(arrivals)}"),
                                                          delay=0.3)

        with FakeAfricasTalking(otherwise=answer) as fake:
            stop = running(at_worker(uow_factory, fake, concurrency=8))
            try:
                wait_for(lambda: len(arrivals) >= 14, seconds=10, why="sending stopped")
            finally:
                stop()

        # The eight failures halved the limit once: four sends until one is answered.
        after_failures = arrivals[8:]
        assert after_failures[4] - after_failures[0] >= 0.25


def test_a_gateway_that_never_answers_is_given_up_at_the_send_deadline(uow_factory):
    queue_messages(uow_factory, 3)
    with FakeAfricasTalking(otherwise=lambda request: Answer(201, "", delay=30)) as fake:
        gateway = AfricasTalkingSmsGateway("sandbox", "test-key", base_url=fake.base_url,
                                           read_timeout=10, send_deadline=1)
        worker = outbox.OutboxWorker(
            uow=uow_factory, gateway=gateway, clock=lambda: datetime.now(UTC),
            policy=QUICK_RETRIES, settings=outbox.WorkerSettings(concurrency=4))
        started = time.monotonic()

        handled = worker.drain()

        took = time.monotonic() - started
    assert handled == 3
    assert took < 3, took
    with uow_factory() as uow:
        summary = uow.outbox.summary(datetime.now(UTC) + timedelta(hours=1))
    assert summary.by_status == {SmsStatus.QUEUED: 3}
    assert summary.due == 3  # to be tried again, well before any lease ran out


def test_the_worker_and_sms_status_show_the_queue_and_the_sends_in_flight(
        database_url, uow_factory, tmp_path):
    queue_messages(uow_factory, 5)
    port = free_port()
    with FakeAfricasTalking(otherwise=accept_all(delay=3)) as fake:
        env = os.environ | {
            "DATABASE_URL": database_url, "SMS_BACKEND": "africastalking",
            "AT_USERNAME": "sandbox", "AT_API_KEY": "test-key", "AT_BASE_URL": fake.base_url,
            "SMS_WORKER_METRICS_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
            "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024",
        }
        flask = [str(Path(sys.executable).parent / "flask"), "--app", "app"]
        worker = subprocess.Popen([*flask, "sms-worker"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(fake.requests) == 5, seconds=20, why="no sends in flight")
            page = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            status = subprocess.run([*flask, "sms-status"], cwd=ROOT, env=env, check=True,
                                    capture_output=True, text=True, timeout=30).stdout
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

    assert "sms_sends_in_flight 5.0" in page
    assert "sms_queue_depth 0.0" in page
    assert 'sms_messages{status="queued"} 5.0' in page
    assert "sms_order_to_gateway_seconds_bucket" in page
    assert "queue: 0 due and waiting for a worker (none waits)" in status
    assert "in flight: 5 of 200 allowed now" in status
    assert statuses(uow_factory) == {SmsStatus.SENT: 5}


def test_the_web_metrics_show_the_queue_and_how_long_it_has_waited(
        database_url, uow_factory):
    queue_messages(uow_factory, 3)
    time.sleep(0.2)
    with live_app(settings_for_tests(database_url, metrics_enabled=True)) as client:
        page = client.get("/metrics").text

    assert "sms_queue_depth 3.0" in page
    [waited] = [line for line in page.splitlines()
                if line.startswith("sms_queue_oldest_age_seconds ")]
    assert 0.2 <= float(waited.split()[1]) < 60

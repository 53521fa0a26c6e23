"""The outbox worker against real databases and a fake Africa's Talking on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.domain.notifications import SmsMessage, SmsStatus
from app.domain.values import PhoneNumber
from app.services import outbox
from app.services.sms import RetryPolicy, SendOutcome, Sent, SmsGateway
from tests.integration.fake_africastalking import Answer, FakeAfricasTalking, accept_all
from tests.integration.live_server import CALLBACK_TOKEN

WANJIKU = "+254719485369"
QUICK_RETRIES = RetryPolicy(base_delay=timedelta(milliseconds=50),
                            max_delay=timedelta(milliseconds=200), max_attempts=10)
ROOT = Path(__file__).resolve().parents[2]


def at_worker(uow_factory, fake, **settings):
    gateway = AfricasTalkingSmsGateway("sandbox", "test-key", base_url=fake.base_url,
                                       read_timeout=2)
    return outbox.OutboxWorker(
        uow=uow_factory, gateway=gateway, clock=lambda: datetime.now(UTC),
        policy=QUICK_RETRIES,
        settings=outbox.WorkerSettings(**({"concurrency": 4, "poll_interval": 0.05}
                                          | settings)),
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
            worker.close()

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
        return uow.outbox.count_by_status()


class CountingGateway(SmsGateway):
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send(self, to: str, text: str) -> SendOutcome:
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

"""Faults outside the service: its database connection cut or stalled, its SMS gateway down,
slow or talking nonsense. The service answers 503 while the database is away, within seconds
even when the network just goes silent, recovers by itself, and never lets the SMS gateway
hold up an order.

The database is cut or stalled through a TCP proxy the test owns; the machine's PostgreSQL
server is never stopped.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.adapters.sqlalchemy.database import create_engine_for
from app.adapters.sqlalchemy.tables import orders, sms_outbox
from app.domain.notifications import SmsKind, SmsStatus
from app.services import outbox
from tests.integration.fake_africastalking import Answer, FakeAfricasTalking, RecordedRequest
from tests.integration.live_server import ApiClient, live_app, settings_for_tests
from tests.integration.tcp_proxy import TcpProxy, can_stall_tcp
from tests.integration.test_api_admin_flow import assert_error
from tests.integration.test_sms_worker import QUICK_RETRIES

LEAKS = ("Traceback", "SELECT", "INSERT", "psycopg", "sqlalchemy", "OperationalError")


@dataclass
class Traffic:
    """Admin clients placing, reading and listing orders in a loop, each answer recorded
    with the phase the test was in when it came."""

    base_url: str
    token: str
    customer_code: str
    phase: str = "before"
    answers: list[tuple[str, requests.Response]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _waiting: dict[tuple[str, int], threading.Event] = field(default_factory=dict)

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._loop, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def wait_for(self, phase: str, status: int, *, timeout: float = 30) -> None:
        """Block until an answer with ``status`` arrives during ``phase``."""
        with self._lock:
            event = self._waiting.setdefault((phase, status), threading.Event())
            if any(p == phase and r.status_code == status for p, r in self.answers):
                event.set()
        assert event.wait(timeout), f"no {status} during {phase!r}: {self.statuses()}"

    def statuses(self) -> Counter[tuple[str, int]]:
        with self._lock:
            return Counter((phase, r.status_code) for phase, r in self.answers)

    def _loop(self, n: int) -> None:
        client = ApiClient(self.base_url)
        body = {"customer_code": self.customer_code, "item": f"Maize from client {n}",
                "amount": "420"}
        while not self.stop.is_set():
            phase = self.phase
            created = client.post("/api/orders/create/", token=self.token, json=body)
            self._record(phase, created)
            listed = client.get("/api/orders/all-orders/", token=self.token)
            self._record(phase, listed)

    def _record(self, phase: str, response: requests.Response) -> None:
        with self._lock:
            self.answers.append((phase, response))
            event = self._waiting.setdefault((phase, response.status_code), threading.Event())
        event.set()


@pytest.mark.postgres_only
def test_a_cut_database_gives_503s_and_the_service_recovers_by_itself(
        database_url, engine, clean_tables, user):
    postgres = make_url(database_url)
    with TcpProxy(postgres.host or "127.0.0.1", postgres.port or 5432) as proxy:
        proxied = postgres.set(host="127.0.0.1", port=proxy.port)
        settings = settings_for_tests(proxied.render_as_string(hide_password=False))
        with live_app(settings) as api:
            admin = api.register_admin()
            api.post("/api/auth/add-user-number/", token=admin.access_token, json={
                "user_id": user, "phone_number": "+254719485369"}).raise_for_status()
            code = api.post("/api/auth/create-customer/", token=admin.access_token,
                            json={"user_id": user}).json()["customer"]["code"]
            traffic = Traffic(api.base_url, admin.access_token, code)
            threads = traffic.run(clients=3)
            try:
                traffic.wait_for("before", 201)

                traffic.phase = "cut"
                proxy.cut()
                traffic.wait_for("cut", 503)
                ready_while_cut = api.get("/readyz")
                login_while_cut = api.post("/api/auth/login/", json={
                    "email": admin.email, "password": "s3cret-pass"})

                proxy.restore()
                traffic.phase = "restored"
                traffic.wait_for("restored", 201)
                traffic.wait_for("restored", 200)
                ready_after = api.get("/readyz")
            finally:
                traffic.stop.set()
                for thread in threads:
                    thread.join()

    assert ready_while_cut.status_code == 503
    assert ready_while_cut.json()["code"] == "service_unavailable"
    assert_error(login_while_cut, 503, "service_unavailable")
    assert ready_after.status_code == 200
    assert {status for _, status in traffic.statuses()} <= {200, 201, 503}, traffic.statuses()
    for _, response in traffic.answers:
        if response.status_code == 503:
            assert_error(response, 503, "service_unavailable")
            assert response.headers["Retry-After"]
            assert not any(leak in response.text for leak in LEAKS), response.text
    # Nothing half-written: every order that reached the database has its SMS beside it.
    with engine.connect() as connection:
        placed = connection.scalar(select(func.count()).select_from(orders))
        announced = connection.scalar(select(func.count()).select_from(sms_outbox).where(
            sms_outbox.c.kind == SmsKind.ORDER_PLACED.value))
    assert placed == announced >= traffic.statuses()[("before", 201)]


@pytest.mark.postgres_only
def test_a_connection_lost_once_the_work_is_done_leaves_its_result_standing(
        uow_factory, engine, user):
    # The unit of work rolls back on leaving its block; on a dead connection that rollback
    # fails, but the server has dropped the transaction anyway: the read stands.
    with uow_factory() as uow:
        found = uow.users.get(UUID(user))
        with engine.connect() as other:
            other.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = current_setting('application_name')"))

    assert found is not None and str(found.id) == user
    with uow_factory() as uow:  # and the next unit of work gets a live connection
        assert uow.users.get(UUID(user)) is not None


GATEWAY_FAULTS = {
    "down": Answer(503, "Service Unavailable", "text/plain"),
    "slow": Answer(201, "", delay=2),
    "garbage-html": Answer(200, "<html><body>Gateway error</body></html>", "text/html"),
    "garbage-json": Answer(201, '{"SMSMessageData": {"Recipients": "nope"}}'),
    "truncated": Answer(201, '{"SMSMessageData": {"Message": "Sent to 1/1'),
}


@pytest.mark.parametrize("fault", GATEWAY_FAULTS, ids=GATEWAY_FAULTS)
def test_orders_are_placed_at_once_whatever_the_sms_gateway_does(
        api, admin, customer, uow_factory, fault):
    reached = threading.Event()

    def faulty(request: RecordedRequest) -> Answer:
        reached.set()
        return GATEWAY_FAULTS[fault]

    with FakeAfricasTalking(otherwise=faulty) as fake:
        gateway = AfricasTalkingSmsGateway("sandbox", "test-key", base_url=fake.base_url,
                                           read_timeout=1)
        worker = outbox.OutboxWorker(
            uow=uow_factory, gateway=gateway, clock=lambda: datetime.now(UTC),
            policy=QUICK_RETRIES,
            settings=outbox.WorkerSettings(concurrency=2, poll_interval=0.05),
        )
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            first = place(api, admin, customer, "First order")
            assert reached.wait(10), "the worker never reached the gateway"
            # The worker is now busy with the faulty gateway while more orders come in.
            timings, placed = [], [first]
            for n in range(8):
                started = time.monotonic()
                placed.append(place(api, admin, customer, f"Order {n}"))
                timings.append(time.monotonic() - started)
        finally:
            stop.set()
            thread.join()

    assert [r.status_code for r in placed] == [201] * 9
    assert max(timings) < 1.0, timings
    assert fake.requests, "the gateway saw no request"
    with uow_factory() as uow:
        for response in placed:
            order_id = response.json()["order"]["id"]
            [sms] = [m for m in uow.outbox.for_order(UUID(order_id))
                     if m.kind is SmsKind.ORDER_PLACED]
            assert sms.status in {SmsStatus.QUEUED, SmsStatus.SENT}, (fault, sms)


def place(api, admin, customer, item):
    return api.post("/api/orders/create/", token=admin.access_token, json={
        "customer_code": customer["code"], "item": item, "amount": "99"})


USERS = "/api/lookup/all-users/"


@contextmanager
def app_behind_proxy(database_url: str) -> Iterator[tuple[TcpProxy, ApiClient]]:
    postgres = make_url(database_url)
    with TcpProxy(postgres.host or "127.0.0.1", postgres.port or 5432) as proxy:
        proxied = postgres.set(host="127.0.0.1", port=proxy.port)
        with live_app(settings_for_tests(proxied.render_as_string(hide_password=False))) as api:
            yield proxy, api


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.postgres_only
def test_readiness_is_refused_within_seconds_while_the_database_stalls(database_url,
                                                                        clean_tables):
    with app_behind_proxy(database_url) as (proxy, api):
        assert api.get("/readyz").status_code == 200

        proxy.stall()
        ready, took = timed(lambda: api.get("/readyz"))
        proxy.restore()

    assert took < 3, took
    assert_error(ready, 503, "service_unavailable")


@pytest.mark.postgres_only
def test_a_stalled_database_gives_503s_within_seconds_and_the_service_recovers(database_url,
                                                                              clean_tables):
    if not can_stall_tcp():
        pytest.skip("this kernel lets only privileged processes drop packets with a socket "
                    "filter, so the proxy cannot stall TCP itself")
    with app_behind_proxy(database_url) as (proxy, api):
        admin = api.register_admin()
        assert api.get(USERS, token=admin.access_token).status_code == 200

        proxy.stall()
        with ThreadPoolExecutor(2) as pool:
            # Clients of their own: a requests session is not for use by two threads.
            reading = pool.submit(timed, lambda: ApiClient(api.base_url).get(
                USERS, token=admin.access_token))
            probing = pool.submit(timed, lambda: ApiClient(api.base_url).get("/readyz"))
            (read, read_took), (ready, ready_took) = reading.result(), probing.result()
        proxy.restore()
        read_after = api.get(USERS, token=admin.access_token)
        ready_after = api.get("/readyz")

    assert_error(read, 503, "service_unavailable")
    assert read_took < 5, read_took
    assert_error(ready, 503, "service_unavailable")
    assert ready_took < 3, ready_took
    assert read_after.status_code == 200, read_after.text
    assert ready_after.status_code == 200, ready_after.text


@pytest.mark.postgres_only
def test_a_query_slower_than_the_stall_limits_is_not_cut(database_url):
    engine = create_engine_for(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            answer = connection.scalar(text("SELECT 'awake' FROM pg_sleep(3.5)"))
    finally:
        engine.dispose()

    assert answer == "awake"

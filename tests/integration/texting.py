"""SMS as a person receives them: the outbox sent through Africa's Talking (the fake)."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.services import outbox
from app.services.sms import RetryPolicy
from tests.integration.fake_africastalking import FakeAfricasTalking
from tests.integration.signing_in import Browser

UowFactory = Callable[[], SqlAlchemyUnitOfWork]
_CODE = re.compile(r"\b(\d{6})\b")


def deliver_outbox(uow_factory: UowFactory, gateway: FakeAfricasTalking) -> None:
    """Send whatever is due, as the worker does."""
    worker = outbox.OutboxWorker(
        uow=uow_factory, clock=lambda: datetime.now(UTC),
        gateway=AfricasTalkingSmsGateway("sandbox", "test-key", base_url=gateway.base_url,
                                         read_timeout=2),
        policy=RetryPolicy(base_delay=timedelta(seconds=30)),
        settings=outbox.WorkerSettings(concurrency=2, poll_interval=0.05),
    )
    # On a thread of its own: the browser tests' Playwright runs an event loop on this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(worker.drain).result()


def texts_received(number: str, *, uow_factory: UowFactory,
                   gateway: FakeAfricasTalking) -> list[str]:
    deliver_outbox(uow_factory, gateway)
    return gateway.texts_to(number)


def code_received(number: str, *, uow_factory: UowFactory, gateway: FakeAfricasTalking) -> str:
    """The code in the last SMS that reached ``number``."""
    found = _CODE.search(texts_received(number, uow_factory=uow_factory, gateway=gateway)[-1])
    assert found, "the last SMS carries a code"
    return found.group(1)


def prove_phone(browser: Browser, typed: str, e164: str, *, uow_factory: UowFactory,
                gateway: FakeAfricasTalking) -> None:
    """Give a number on the account page and type back the code texted to it."""
    assert browser.submit("/account/phone/", phone_number=typed).status_code == 302
    code = code_received(e164, uow_factory=uow_factory, gateway=gateway)
    assert browser.submit("/account/phone/verify/", code=code).status_code == 302

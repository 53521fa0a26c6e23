"""A person in headless Chromium (Debian's package, driven by Playwright) uses every page.

One database is enough here (SQLite); the pages' behaviour on both databases is covered over
plain HTTP. Screenshots of each page go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from app import create_app
from app.adapters.sqlalchemy.database import create_engine_for
from app.adapters.sqlalchemy.migrate import upgrade_database
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tests.integration.fake_africastalking import FakeAfricasTalking, accept_all
from tests.integration.live_server import serve, settings_for_tests
from tests.integration.signing_in import local_sign_in, set_person
from tests.integration.texting import UowFactory, code_received

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'orders.db'}"
    upgrade_database(database_url)
    return database_url


@pytest.fixture(scope="module")
def site(browser_database: str, local_issuer: str) -> Iterator[str]:
    settings = settings_for_tests(browser_database, **local_sign_in(local_issuer))
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def uow_factory(browser_database: str) -> Iterator[UowFactory]:
    engine = create_engine_for(browser_database, pool_size=2)
    yield lambda: SqlAlchemyUnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport=PHONE)
    # The local provider's page links a stylesheet on a CDN: nothing leaves this machine.
    context.route("**/*", _only_local)
    yield context.new_page()
    context.close()


def test_a_person_signs_in_proves_a_number_becomes_a_customer_orders_confirms_and_signs_out(
        page, site, local_issuer, uow_factory):
    set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True,
               name="Wanjiku Kamau")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{site}/")
    _check_and_capture(page, "01-sign-in")
    page.get_by_role("link", name="Continue with Local test provider").click()

    page.get_by_placeholder("sub").fill("wanjiku")
    _capture(page, "02-local-provider")
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("wanjiku@example.com")).to_be_visible()
    _check_and_capture(page, "03-account")

    page.get_by_role("textbox", name="Phone number").fill("0719 485 369")
    page.get_by_role("button", name="Add phone number").click()
    expect(page.locator("#phone-state")).to_contain_text("We texted a code to +254719485369")
    _check_and_capture(page, "04-code-sent")

    with FakeAfricasTalking(otherwise=accept_all()) as phone:
        code = code_received("+254719485369", uow_factory=uow_factory, gateway=phone)
    page.get_by_role("textbox", name="Code from the SMS").fill(code)
    page.get_by_role("button", name="Confirm number").click()
    expect(page.locator("#phone-state")).to_contain_text("+254719485369 is confirmed")
    _check_and_capture(page, "05-phone-confirmed")

    page.get_by_role("button", name="Become a customer").click()
    expect(page.get_by_text("You are customer")).to_be_visible()
    _check_and_capture(page, "06-customer")

    page.get_by_role("textbox", name="Item").fill("Sack of maize")
    page.get_by_role("textbox", name="Amount (KES)").fill("420")
    page.get_by_role("button", name="Place order").click()
    order = page.locator(".order", has_text="Sack of maize")
    expect(order).to_contain_text("KES 420.00")
    expect(order).to_contain_text("Pending")
    _check_and_capture(page, "07-order-placed")

    order.get_by_role("button", name="Confirm receipt of Sack of maize").click()
    expect(order).to_contain_text("Confirmed")
    expect(page.get_by_role("button", name="Confirm receipt of Sack of maize")).to_have_count(0)
    _check_and_capture(page, "08-receipt-confirmed")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{site}/account/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    _check_and_capture(page, "09-signed-out")


def _only_local(route: Route) -> None:
    if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
        route.continue_()
    else:
        route.abort()


def _capture(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def _check_and_capture(page: Page, name: str) -> None:
    """The cheap accessibility and phone checks every page of ours passes, then a screenshot."""
    unlabelled = page.eval_on_selector_all(
        "input:not([type=hidden]), select, textarea",
        "fields => fields.filter(f => !f.labels.length && !f.ariaLabel).map(f => f.name)")
    nameless = page.eval_on_selector_all(
        "a, button", "els => els.filter(e => !(e.innerText.trim() || e.ariaLabel))"
                     ".map(e => e.outerHTML)")
    assert unlabelled == []
    assert nameless == []
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").count() == 1
    assert page.locator("script").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
        "the page scrolls sideways on a phone"
    _capture(page, name)


def test_the_api_docs_render_offline_under_the_content_security_policy(page, site):
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{site}/docs")

    expect(page.get_by_text("/api/orders/create/").first).to_be_visible()
    _capture(page, "10-api-docs")
    assert refused == []

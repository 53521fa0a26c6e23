"""The authorization code flow through the real app over HTTP, on both databases.

The local OpenID Connect provider (``oidc-provider-mock``) serves discovery, the ID token
and userinfo; fake GitHub and Facebook servers stand in for those two. The app reaches every
one of them through its settings alone.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from app.adapters.oidc import AuthlibIdentityProvider
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.config import Settings
from app.domain.users import Identity, Role, User
from app.domain.values import Email
from app.services.views import PageRequest, UserView
from tests.integration.fake_oauth import FakeFacebook, FakeGitHub
from tests.integration.live_server import ApiClient, serve
from tests.integration.signing_in import (
    Browser,
    approve,
    deny,
    set_person,
    visit,
    web_settings,
)

UowFactory = Callable[[], SqlAlchemyUnitOfWork]


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture(scope="module")
def facebook() -> Iterator[FakeFacebook]:
    with FakeFacebook() as fake:
        yield fake


@pytest.fixture(scope="module")
def site(database_url: str, local_issuer: str, github: FakeGitHub, facebook: FakeFacebook
         ) -> Iterator[str]:
    with serve(create_app(web_settings(database_url, local_issuer, github, facebook))) as url:
        yield url


@pytest.fixture
def browser(site: str, clean_tables: None, github: FakeGitHub, facebook: FakeFacebook
            ) -> Browser:
    github.reset()
    facebook.reset()
    return Browser(site)


def everyone(uow_factory: UowFactory) -> list[UserView]:
    with uow_factory() as uow:
        return list(uow.users.list(PageRequest(per_page=100), email_contains=None).items)


def existing_user(uow_factory: UowFactory, email: str, *, role: Role = Role.USER,
                  identities: list[Identity] | None = None) -> User:
    """A user who signed in before with a provider that verified their address."""
    user = User(email=Email(email), name="Known Person", role=role,
                created_at=datetime.now(UTC), identities=identities or [], email_verified=True)
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    return user


class TestLocalOpenIdProvider:
    def test_a_new_person_is_signed_in_as_a_plain_user(self, browser, local_issuer, uow_factory):
        set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True,
                   name="Wanjiku Kamau")

        authorization_url = browser.start_sign_in("dev")
        answer = browser.come_back(approve(authorization_url, "wanjiku"))

        asked = parse_qs(urlsplit(authorization_url).query)
        assert asked["scope"] == ["openid email profile"]
        assert asked["code_challenge_method"] == ["S256"]
        assert asked["nonce"] and asked["state"]
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/account/"
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # only in production
        [user] = everyone(uow_factory)
        assert (user.email, user.name, user.role, user.providers) == (
            "wanjiku@example.com", "Wanjiku Kamau", "user", ["dev"])
        assert "Wanjiku Kamau" in browser.get("/account/").text

    def test_a_returning_person_is_the_same_user_with_a_refreshed_name(
            self, browser, local_issuer, uow_factory):
        set_person(local_issuer, "otieno", email="otieno@example.com", email_verified=True,
                   name="Otieno")
        browser.sign_in_locally("otieno")
        set_person(local_issuer, "otieno", email="otieno@example.com", email_verified=True,
                   name="Otieno Ouma")

        answer = Browser(browser.site).sign_in_locally("otieno")

        assert answer.status_code == 302
        [user] = everyone(uow_factory)
        assert user.name == "Otieno Ouma"

    def test_a_verified_email_links_the_sign_in_to_the_existing_user(
            self, browser, local_issuer, uow_factory):
        known = existing_user(uow_factory, "amina@example.com",
                              identities=[Identity("github", "583231")])
        set_person(local_issuer, "amina", email="Amina@Example.com", email_verified=True,
                   name="Amina Njeri")

        answer = browser.sign_in_locally("amina")

        assert answer.status_code == 302
        [user] = everyone(uow_factory)
        assert user.id == known.id
        assert user.providers == ["dev", "github"]

    def test_an_unverified_email_of_an_existing_user_is_refused(
            self, browser, local_issuer, uow_factory):
        existing_user(uow_factory, "amina@example.com", identities=[Identity("github", "1")])
        set_person(local_issuer, "impostor", email="amina@example.com", email_verified=False)

        answer = browser.sign_in_locally("impostor")

        assert answer.status_code == 409
        assert "already exists" in answer.text
        [user] = everyone(uow_factory)
        assert user.providers == ["github"]
        assert browser.get("/account/").status_code == 302

    def test_an_identity_without_an_email_gets_a_page_not_an_account(
            self, browser, local_issuer, uow_factory):
        set_person(local_issuer, "no-email", name="Nobody")

        answer = browser.sign_in_locally("no-email")

        assert answer.status_code == 403
        assert "email address" in answer.text
        assert everyone(uow_factory) == []

    def test_the_session_starts_afresh_at_sign_in(self, browser, local_issuer):
        set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True)
        browser.http.cookies.set("session", "planted-by-someone-else", domain="127.0.0.1")
        before = browser.get("/").text

        browser.sign_in_locally("wanjiku")

        assert browser.http.cookies["session"] != "planted-by-someone-else"
        assert "Your account" in browser.get("/account/").text
        assert "csrf_token" not in before  # the sign-in page has no form to protect

    @pytest.mark.parametrize(("asked", "landing"), [
        ("/account/?page=2", "/account/?page=2"),
        ("https://evil.example/", "/account/"),
        ("//evil.example/", "/account/"),
        ("/\\evil.example/", "/account/"),
    ])
    def test_next_only_leads_within_the_site(self, browser, local_issuer, asked, landing):
        set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True)

        answer = browser.come_back(approve(browser.start_sign_in("dev", next=asked), "wanjiku"))

        assert answer.headers["Location"] == landing

    def test_a_callback_in_another_browser_is_a_state_mismatch(self, browser, local_issuer,
                                                               uow_factory):
        set_person(local_issuer, "wanjiku", email="wanjiku@example.com", email_verified=True)
        callback = approve(browser.start_sign_in("dev"), "wanjiku")

        answer = Browser(browser.site).come_back(callback)

        assert answer.status_code == 400
        assert "expired or was started in another browser" in answer.text
        assert everyone(uow_factory) == []

    def test_a_provider_that_does_not_answer_gets_a_page(self, database_url, local_issuer, github,
                                                          facebook, clean_tables):
        settings = web_settings(database_url, local_issuer, github, facebook,
                                oidc_issuer=f"http://127.0.0.1:{_closed_port()}")
        with serve(create_app(settings)) as site:
            answer = Browser(site).get("/login/dev/")

        assert answer.status_code == 504
        assert "did not answer" in answer.text
        assert "Reference:" in answer.text


class TestGitHub:
    def test_a_new_person_gets_the_primary_verified_email(self, browser, github, uow_factory):
        github.user = {"id": 583231, "login": "octocat", "name": "Mona Lisa", "email": None}
        github.emails = [
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "mona@example.com", "primary": True, "verified": True},
        ]

        answer = browser.come_back(visit(browser.start_sign_in("github")))

        assert answer.status_code == 302
        [user] = everyone(uow_factory)
        assert (user.email, user.name, user.providers) == (
            "mona@example.com", "Mona Lisa", ["github"])
        [token_request] = github.token_requests
        assert token_request["code_verifier"]  # PKCE, checked by the fake against the challenge

    def test_a_verified_email_links_to_the_existing_user(self, browser, github, uow_factory):
        known = existing_user(uow_factory, "mona@example.com", identities=[Identity("dev", "m")])
        github.emails = [{"email": "mona@example.com", "primary": True, "verified": True}]

        browser.come_back(visit(browser.start_sign_in("github")))

        [user] = everyone(uow_factory)
        assert user.id == known.id
        assert user.providers == ["dev", "github"]
        assert user.name == "octocat"  # GitHub's login when the profile has no name

    def test_an_unverified_primary_email_of_an_existing_user_is_refused(
            self, browser, github, uow_factory):
        existing_user(uow_factory, "mona@example.com")
        github.emails = [{"email": "mona@example.com", "primary": True, "verified": False}]

        answer = browser.come_back(visit(browser.start_sign_in("github")))

        assert answer.status_code == 409
        [user] = everyone(uow_factory)
        assert user.providers == []

    def test_a_slow_provider_gets_a_page_within_the_timeout(self, browser, github,
                                                            uow_factory):
        github.api_delay = 3.0

        started = time.monotonic()
        answer = browser.come_back(visit(browser.start_sign_in("github")))

        assert time.monotonic() - started < 2.5
        assert answer.status_code == 504
        assert "did not answer in time" in answer.text
        assert everyone(uow_factory) == []


class TestFacebook:
    def test_a_new_person_is_signed_in_with_the_graph_profile(self, browser, facebook,
                                                               uow_factory):
        facebook.me = {"id": "10158", "name": "Amina Njeri", "email": "amina@example.com"}

        answer = browser.come_back(visit(browser.start_sign_in("facebook")))

        assert answer.status_code == 302
        [user] = everyone(uow_factory)
        assert (user.email, user.name, user.providers) == (
            "amina@example.com", "Amina Njeri", ["facebook"])

    def test_an_email_facebook_returns_counts_as_verified_for_linking(
            self, browser, facebook, uow_factory):
        known = existing_user(uow_factory, "amina@example.com")
        facebook.me = {"id": "10158", "name": "Amina Njeri", "email": "amina@example.com"}

        browser.come_back(visit(browser.start_sign_in("facebook")))

        [user] = everyone(uow_factory)
        assert user.id == known.id

    def test_a_withheld_email_gets_a_page(self, browser, facebook, uow_factory):
        facebook.me = {"id": "10158", "name": "Amina Njeri"}

        answer = browser.come_back(visit(browser.start_sign_in("facebook")))

        assert answer.status_code == 403
        assert everyone(uow_factory) == []


class TestDeniedConsent:
    @pytest.mark.parametrize("provider", ["dev", "github", "facebook"])
    def test_denying_consent_gets_a_page_and_no_account(self, browser, github, facebook,
                                                        uow_factory, provider):
        github.consent = facebook.consent = False
        authorization_url = browser.start_sign_in(provider)

        callback = deny(authorization_url) if provider == "dev" else visit(authorization_url)
        answer = browser.come_back(callback)

        assert answer.status_code == 403
        assert "chose not to share" in answer.text
        assert everyone(uow_factory) == []


class TestBrowserAndApiStaySeparate:
    def test_a_browser_session_cannot_call_the_admin_api(self, browser, local_issuer):
        api = ApiClient(browser.site)
        admin = api.register_admin("grace@example.com")
        set_person(local_issuer, "grace", email="grace@example.com", email_verified=True)
        browser.sign_in_locally("grace")  # linked to the administrator's own user

        answer = browser.http.get(f"{browser.site}/api/lookup/all-users/", timeout=10)

        assert answer.status_code == 401
        assert answer.json()["code"] == "token_missing"
        assert api.get("/api/lookup/all-users/", token=admin.access_token).status_code == 200

    def test_an_admin_token_is_not_a_browser_session(self, browser):
        admin = ApiClient(browser.site).register_admin()

        answer = browser.get("/account/", headers={"Authorization": f"Bearer {admin.access_token}"})

        assert answer.status_code == 302
        assert answer.headers["Location"] == "/"


def test_a_provider_is_offered_only_with_both_its_client_id_and_secret():
    settings = Settings(google_client_id="id-only", github_client_id="id",
                        github_client_secret="secret", oidc_issuer="http://localhost:1",
                        oidc_client_id="id", oidc_client_secret="secret")

    assert AuthlibIdentityProvider(settings).enabled() == ["github", "dev"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

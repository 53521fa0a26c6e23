"""Signing in over plain HTTP, the way a browser would, against the local OIDC provider.

The app is served on ``127.0.0.1`` and the provider on ``localhost``: the two sites keep
their own cookies, as they would in a real browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import oidc_provider_mock
import requests

from app.config import Settings
from tests.integration.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeFacebook, FakeGitHub
from tests.integration.live_server import settings_for_tests

_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def local_provider() -> Iterator[str]:
    """``oidc-provider-mock`` in a thread; yields its issuer URL."""
    with oidc_provider_mock.run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


def set_person(issuer: str, subject: str, **claims: Any) -> None:
    """What the local provider says about ``subject`` from now on."""
    requests.put(f"{issuer}/users/{subject}", json=claims, timeout=5).raise_for_status()


def local_sign_in(issuer: str) -> dict[str, Any]:
    """Settings that enable the ``dev`` provider against the local one."""
    return dict(oidc_issuer=issuer, oidc_client_id="orders-test",
                oidc_client_secret="orders-secret", oidc_provider_name="Local test provider")


def web_settings(database_url: str, issuer: str, github: FakeGitHub, facebook: FakeFacebook,
                 **changes: Any) -> Settings:
    """Every provider enabled, each pointed at its local stand-in."""
    providers: dict[str, Any] = dict(
        **local_sign_in(issuer),
        github_client_id=CLIENT_ID, github_client_secret=CLIENT_SECRET,
        github_base_url=github.base_url, github_api_base_url=github.api_url,
        facebook_client_id=CLIENT_ID, facebook_client_secret=CLIENT_SECRET,
        facebook_base_url=facebook.url, facebook_graph_url=facebook.url,
        oauth_timeout_seconds=1,
    )
    return settings_for_tests(database_url, **{**providers, **changes})


def approve(authorization_url: str, subject: str) -> str:
    """The person signs in at the local provider as ``subject``; returns the callback URL."""
    answer = requests.post(authorization_url, data={"sub": subject}, allow_redirects=False,
                           timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def deny(authorization_url: str) -> str:
    answer = requests.post(authorization_url, data={"action": "deny"}, allow_redirects=False,
                           timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def visit(authorization_url: str) -> str:
    """A fake GitHub or Facebook page, which decides at once; returns the callback URL."""
    answer = requests.get(authorization_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


class Browser:
    """One person's cookies on the site; redirects are followed by hand, to look at each."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.http = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.site + path, allow_redirects=False, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.site + path, allow_redirects=False, timeout=10, **kwargs)

    def start_sign_in(self, provider: str, **params: str) -> str:
        """The provider's authorization URL the site sends the browser to."""
        answer = self.get(f"/login/{provider}/", params=params)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def come_back(self, callback_url: str) -> requests.Response:
        return self.http.get(callback_url, allow_redirects=False, timeout=10)

    def sign_in_locally(self, subject: str) -> requests.Response:
        return self.come_back(approve(self.start_sign_in("dev"), subject))

    def submit(self, path: str, **fields: str) -> requests.Response:
        """Post a form of the account page, with the CSRF token the page carries."""
        token = _CSRF_INPUT.search(self.get("/account/").text)
        assert token, "the account page has a CSRF token"
        return self.post(path, data={"csrf_token": token.group(1), **fields})

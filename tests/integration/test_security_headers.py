"""Browser-facing protections on every response."""

import secrets

import pytest

from app.adapters.sqlalchemy.migrate import upgrade_database
from tests.integration.live_server import live_app, settings_for_tests

PATHS = ["/", "/account/", "/docs", "/api/lookup/all-users/", "/healthz", "/nope"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_forbids_inline_script_framing_and_sniffing(api, path):
    response = api.get(path, allow_redirects=False)

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # development is plain http


def test_production_insists_on_https(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    upgrade_database(database_url)
    settings = settings_for_tests(database_url, app_env="production",
                                  secret_key=secrets.token_hex(32),
                                  jwt_secret_key=secrets.token_hex(32),
                                  admin_api_key=secrets.token_hex(32),
                                  at_callback_token=secrets.token_hex(32),
                                  public_base_url="https://orders.example.com")

    with live_app(settings) as client:
        response = client.get("/healthz")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_page_carries_inline_script(api):
    for path in ["/", "/docs"]:
        page = api.get(path).text

        assert "<script>" not in page
        assert "onclick=" not in page.lower()

"""The real app served over loopback HTTP, and a small client for talking to it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.config import Settings

CALLBACK_TOKEN = "test-callback-token"


def settings_for_tests(database_url: str, **changes: Any) -> Settings:
    """Settings for tests: cheap password hashing and no login or registration limit unless
    a test sets one."""
    base = Settings(
        database_url=database_url,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        login_rate_limit="10000/minute",
        login_email_rate_limit="10000/minute",
        admin_register_rate_limit="10000/minute",
        admin_register_global_rate_limit="10000/minute",
        log_level="WARNING",
        at_callback_token=CALLBACK_TOKEN,
    )
    return base.with_changes(**changes)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@contextmanager
def live_app(settings: Settings) -> Iterator[ApiClient]:
    app = create_app(settings)
    with serve(app) as base_url:
        yield ApiClient(base_url)


@dataclass(frozen=True)
class Admin:
    user_id: str
    email: str
    access_token: str
    refresh_token: str


class ApiClient:
    """``requests`` against one base URL, with an optional bearer token per call."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method: str, path: str, *, token: str | None = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base_url + path, headers=all_headers,
                                    timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def register_admin(self, email: str = "admin@example.com") -> Admin:
        response = self.post("/api/auth/admin-register/", json={
            "email": email, "password": "s3cret-pass", "api_key": "123456721"})
        assert response.status_code == 201, response.text
        body = response.json()
        return Admin(body["user_id"], body["email"], body["access_token"], body["refresh_token"])

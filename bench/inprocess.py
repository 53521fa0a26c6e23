"""In-process measurements with Flask's test client on the benchmark database: SQL statements
per request (SQLAlchemy events) and profiles (pyinstrument) of the slowest scenarios.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

from app import create_app as create_service
from app.config import Settings
from bench.servers import LOGIN_RATE_LIMIT, Secrets
from bench.wrk import Request

SHOW_ALL = bool(os.environ.get("BENCH_PROFILE_ALL"))


@dataclass(frozen=True)
class Count:
    statements: int
    checkouts: int
    status: int


@contextmanager
def counting() -> Iterator[dict[str, int]]:
    """Counts cursor executions and pool checkouts (each a pre-ping round trip) meanwhile."""
    counts = {"statements": 0, "checkouts": 0}

    def statement(*args: Any) -> None:
        counts["statements"] += 1

    def checkout(*args: Any) -> None:
        counts["checkouts"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Pool, "checkout", checkout)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", statement)
        event.remove(Pool, "checkout", checkout)


def service_app(database_url: str) -> Flask:
    """The service as production builds it, minus the production secret check."""
    return create_service(Settings(database_url=database_url, login_rate_limit=LOGIN_RATE_LIMIT,
                                   log_level="WARNING"))


def baseline_app(database_url: str, keys: Secrets) -> Flask:
    from bench.baseline_app import create_app

    saved = dict(os.environ)
    os.environ.update({"DATABASE_URL": database_url, "JWT_SECRET_KEY": keys.jwt_secret_key})
    try:
        return create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def login(app: Flask, email: str, password: str) -> str:
    answer = app.test_client().post("/api/auth/login/",
                                    json={"email": email, "password": password})
    if answer.status_code != 200:
        raise RuntimeError(f"bench admin cannot log in: {answer.status_code} {answer.text}")
    return str(answer.json["access_token"])  # type: ignore[index]


def send(app: Flask, request: Request, token: str) -> Any:
    return app.test_client().open(
        request.path, method=request.method, data=request.body or None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def count_per_request(app: Flask, request: Request, token: str) -> Count:
    """Statements of one request, after one warm-up request of the same kind."""
    send(app, request, token)
    with counting() as counts:
        answer = send(app, request, token)
    return Count(counts["statements"], counts["checkouts"], answer.status_code)


def profile(app: Flask, requests: list[Request], token: str, *, repeat: int) -> str:
    """A pyinstrument profile of ``repeat`` requests, as indented text."""
    from pyinstrument import Profiler

    for request in requests[:5]:
        send(app, request, token)
    profiler = Profiler(interval=0.0005)
    with profiler:
        for i in range(repeat):
            send(app, requests[i % len(requests)], token)
    return str(profiler.output_text(unicode=True, color=False, show_all=SHOW_ALL))


def timed(function: Callable[[], object], *, repeat: int) -> float:
    """Mean seconds per call of ``function``."""
    import time

    started = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - started) / repeat

"""In-process measurements with Flask's test client on the benchmark database: SQL statements
per request (SQLAlchemy events), where a request's time goes (cProfile) and profiles
(pyinstrument) of the slowest scenarios.
"""

from __future__ import annotations

import os
import time
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
WARM_UP = 30  # requests before timing: psycopg prepares a statement on its sixth run


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


@dataclass(frozen=True)
class Breakdown:
    """Wall-clock milliseconds per request: in all, and in each part the service adds to the
    baseline's work (the rest is Flask, werkzeug, the test client and the service's hooks)."""

    total_ms: float
    parts_ms: dict[str, float]


def _parts() -> dict[str, list[tuple[Any, str]]]:
    """Where each part is entered: (owner, attribute) pairs that get a timer."""
    import marshmallow
    import webargs.core
    from flask_jwt_extended import view_decorators
    from flask_limiter import Limiter

    from app.services import auth, customers, orders, users

    use_cases = [(module, name) for module in (auth, customers, orders, users)
                 for name, value in vars(module).items()
                 if callable(value) and not name.startswith("_") and name != "check_token"
                 and getattr(value, "__module__", "") == module.__name__
                 and not isinstance(value, type)]
    return {
        "use case and its SQL": use_cases,
        "token check (1 statement)": [(auth, "check_token")],
        "JWT decode": [(view_decorators, "_decode_jwt_from_request")],
        "response (marshmallow)": [(marshmallow.Schema, "dump")],
        "arguments (webargs)": [(webargs.core.Parser, "parse")],
        "rate-limit hook": [(Limiter, "_check_request_limit")],
    }


@contextmanager
def _timers(parts: dict[str, list[tuple[Any, str]]]) -> Iterator[dict[str, float]]:
    """Seconds spent in each part meanwhile; a part entered again from inside itself (a
    nested schema, a use case calling another) counts once."""
    spent = dict.fromkeys(parts, 0.0)
    depth = dict.fromkeys(parts, 0)
    replaced: list[tuple[Any, str, Any]] = []

    def timer(part: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth[part] += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                depth[part] -= 1
                if not depth[part]:
                    spent[part] += time.perf_counter() - started
        return timed

    for part, places in parts.items():
        for owner, name in places:
            original = getattr(owner, name)
            replaced.append((owner, name, original))
            setattr(owner, name, timer(part, original))
    try:
        yield spent
    finally:
        for owner, name, original in reversed(replaced):
            setattr(owner, name, original)


def breakdown(make_app: Callable[[], Flask], requests: list[Request], token: str, *,
              repeat: int) -> Breakdown:
    """Where the time of ``repeat`` requests goes, timed where each part is entered (a
    profiler would slow the many small calls of JWT decoding more than waiting on SQL). The
    app is made with the timers in place, as hooks are bound when it is built."""
    with _timers(_parts()) as spent:
        app = make_app()
        for i in range(WARM_UP):  # its connections opened and its statements prepared
            send(app, requests[i % len(requests)], token)
        for part in spent:
            spent[part] = 0.0
        started = time.perf_counter()
        for i in range(repeat):
            send(app, requests[i % len(requests)], token)
        elapsed = time.perf_counter() - started
    parts = {part: seconds * 1000 / repeat for part, seconds in spent.items()}
    # The token check runs inside the JWT decoding: that is counted without it.
    parts["JWT decode"] -= parts["token check (1 statement)"]
    return Breakdown(elapsed * 1000 / repeat, parts)


def ms_per_request(app: Flask, requests: list[Request], token: str, *, repeat: int) -> float:
    """Wall-clock milliseconds per request, after a warm-up."""
    for i in range(WARM_UP):
        send(app, requests[i % len(requests)], token)
    started = time.perf_counter()
    for i in range(repeat):
        send(app, requests[i % len(requests)], token)
    return (time.perf_counter() - started) * 1000 / repeat


def timed(function: Callable[[], object], *, repeat: int) -> float:
    """Mean seconds per call of ``function``."""
    started = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - started) / repeat

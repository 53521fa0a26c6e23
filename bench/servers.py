"""Processes a benchmark starts: the service and the baseline under the production gunicorn
command, the SMS worker, and the fake SMS gateway. Each is stopped by its own process group.
"""

from __future__ import annotations

import json
import os
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from app.config import Settings
from bench.dataset import Dataset

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
SERVICE_APP = "app:create_app()"
BASELINE_APP = "bench.baseline_app:create_app()"
LOGS = Path(tempfile.gettempdir()) / "bench-logs"
# Logins are limited to 10 a minute per address and per email in production; the login
# scenario measures logging in, so the limit is lifted (and said so in the results).
LOGIN_RATE_LIMIT = "1000000/minute"


@dataclass(frozen=True)
class Secrets:
    secret_key: str
    jwt_secret_key: str
    admin_api_key: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(24))


def production_env(database_url: str, keys: Secrets, port: int, **extra: str) -> dict[str, str]:
    """The environment of a production web process, with this run's database and secrets."""
    ours = {f.metadata["env"] for f in fields(Settings)}
    env = {k: v for k, v in os.environ.items()
           if k not in ours and not k.startswith("GUNICORN_") and k != "WEB_CONCURRENCY"}
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": keys.secret_key,
        "JWT_SECRET_KEY": keys.jwt_secret_key,
        "ADMIN_API_KEY": keys.admin_api_key,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "LOGIN_RATE_LIMIT": LOGIN_RATE_LIMIT,
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_LOG_LEVEL": "warning",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
        **extra,
    })
    return env


def gunicorn_settings(env: dict[str, str]) -> dict[str, object]:
    """Workers and threads deploy/gunicorn.conf.py gives under ``env``."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        conf = runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"workers": conf["workers"], "threads": conf["threads"],
            "worker_class": conf["worker_class"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(name: str, command: list[str], env: dict[str, str]) -> Iterator[Path]:
    """Run ``command`` in its own process group; yields its log file; stops it at the end."""
    LOGS.mkdir(exist_ok=True)
    log = LOGS / f"{name}.log"
    with log.open("w") as output:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield log
    finally:
        _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGINT)
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=5)


@contextmanager
def gunicorn(name: str, wsgi_app: str, env: dict[str, str]) -> Iterator[str]:
    """``gunicorn --config deploy/gunicorn.conf.py <app>``, as production runs it."""
    command = [str(BIN / "gunicorn"), "--config", str(GUNICORN_CONF), wsgi_app]
    with process(name, command, env) as log:
        base_url = f"http://127.0.0.1:{env['PORT']}"
        wait_until_ready(base_url + "/readyz", log)
        yield base_url


def login(base_url: str, dataset: Dataset) -> str:
    """An access token for the dataset's admin from a running service."""
    body = json.dumps({"email": dataset.admin_email, "password": dataset.admin_password})
    request = urllib.request.Request(  # noqa: S310 (loopback)
        base_url + "/api/auth/login/", data=body.encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
        return str(json.load(answer)["access_token"])


def wait_until_ready(url: str, log: Path, *, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} never answered; see {log}:\n{log.read_text()[-3000:]}")


@contextmanager
def fake_gateway(delay: float) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "bench.fake_gateway", "--port", str(port),
               "--delay", str(delay)]
    with process(f"fake-gateway-{delay:g}s", command, {**os.environ, "PYTHONPATH": str(ROOT)}
                 ) as log:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(base_url + "/stats", log, seconds=15)
        yield base_url


def gateway_sent(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/stats", timeout=5) as answer:  # noqa: S310
        return int(json.load(answer)["sent"])


def has_sms_worker() -> bool:
    """Whether ``flask --app app sms-worker`` exists yet in app/entrypoints/cli.py."""
    cli = (ROOT / "app" / "entrypoints" / "cli.py").read_text()
    return '"sms-worker"' in cli


@contextmanager
def sms_worker(env: dict[str, str], gateway_url: str) -> Iterator[Path]:
    worker_env = {**env, "SMS_BACKEND": "africastalking", "AT_USERNAME": "bench",
                  "AT_API_KEY": "bench-key", "AT_BASE_URL": gateway_url,
                  "AT_CALLBACK_TOKEN": secrets.token_urlsafe(32)}
    command = [str(BIN / "flask"), "--app", "app", "sms-worker"]
    with process("sms-worker", command, worker_env) as log:
        deadline = time.monotonic() + 30
        while "started" not in log.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the SMS worker did not start; see {log}")
            time.sleep(0.2)
        yield log

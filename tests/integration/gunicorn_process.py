"""The service as production runs it: gunicorn with deploy/gunicorn.conf.py, in a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [str(Path(sys.executable).parent / "gunicorn"), "--config",
           str(ROOT / "deploy" / "gunicorn.conf.py"), "app:create_app()"]
CHEAP_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(**settings: str) -> dict[str, str]:
    """The test process's environment without the app's settings, plus ``settings``."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("APP_", "SECRET_", "JWT_", "ADMIN_", "DATABASE_"))}
    return inherited | CHEAP_HASHING | {"HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"} | settings


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    """Run gunicorn until the block ends; yields its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(COMMAND, cwd=ROOT, env=env | {"PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"gunicorn exited: {process.stderr.read()}"  # type: ignore[union-attr]
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:  # listening, but workers still booting
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)

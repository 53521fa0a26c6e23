"""Gunicorn settings for the customer order service, driven by environment variables.

Used by the Docker image (``gunicorn --config /app/gunicorn.conf.py 'app:create_app()'``)
and by the development runner, so nothing here is specific to one of them:

=========================  =======================================  ====================
variable                   meaning                                  default
=========================  =======================================  ====================
HOST, PORT                 address to listen on                     0.0.0.0, 8000
WEB_CONCURRENCY            worker processes                         2 x CPUs + 1, max 12
GUNICORN_THREADS           threads per worker (gthread)             4
GUNICORN_TIMEOUT           seconds before a silent worker is killed 30
GUNICORN_GRACEFUL_TIMEOUT  seconds to finish requests on SIGTERM    30
GUNICORN_KEEPALIVE         seconds to hold an idle connection       5
GUNICORN_MAX_REQUESTS      recycle a worker after N requests (0=no) 0
FORWARDED_ALLOW_IPS        proxies trusted for X-Forwarded-Proto    127.0.0.1,::1
GUNICORN_ACCESS_LOG        access log file, "-" = stdout, "" = off  "" (off)
GUNICORN_LOG_LEVEL         gunicorn's own log level                 info
GUNICORN_RELOAD            restart workers on code changes (dev)    false
GUNICORN_CONTROL_SOCKET    enable gunicornc's control socket        false
=========================  =======================================  ====================

``APP_ENV=production`` with a missing or default secret stops the master at start-up with
the reason (see ``on_starting``), instead of booting workers that fail one by one.
"""

from __future__ import annotations

import os
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise RuntimeError(f"{name} must be a whole number, not {raw!r}.") from error
    if value < 0:
        raise RuntimeError(f"{name} must not be negative, not {raw!r}.")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise RuntimeError(f"{name} must be true or false, not {raw!r}.")


def _cpu_count() -> int:
    """CPUs this process may run on (respects container cpusets), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not available on every platform (macOS)
        return max(1, os.cpu_count() or 1)


# --- Socket ---------------------------------------------------------------------------
# All interfaces by default because inside a container the port is only reachable through
# Docker's port mapping; the development runner sets HOST=127.0.0.1.
_host = os.environ.get("HOST", "").strip() or "0.0.0.0"  # noqa: S104
_port = _int("PORT", 8000)
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
backlog = 2048

# --- Workers --------------------------------------------------------------------------
# Threads let one worker overlap requests that wait on PostgreSQL; keep
# GUNICORN_THREADS <= DATABASE_POOL_SIZE so a thread never waits for a connection.
workers = _int("WEB_CONCURRENCY", min(2 * _cpu_count() + 1, 12)) or 1
threads = _int("GUNICORN_THREADS", 4) or 1
worker_class = "gthread"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# The app opens database pools per process: build it in each worker, never in the master.
preload_app = False
reload = _bool("GUNICORN_RELOAD", False)
# Heartbeat files on tmpfs: a container's overlay filesystem can stall them.
_SHM = "/dev/shm"  # noqa: S108 (gunicorn's documented advice for containers)
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM

# --- Proxy ----------------------------------------------------------------------------
# Which peers may set X-Forwarded-Proto/-For. Behind the compose proxy the web port is not
# published beyond the host's loopback, so the deployment sets "*".
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"

# --- Logging --------------------------------------------------------------------------
# Off by default: the app logs one line per request itself, with its request id.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info").strip().lower() or "info"
# Remote address, time, request line, status, bytes, duration (ms), referrer, user agent
# and the X-Request-Id the app puts on every response, to join access and app logs.
access_log_format = (
    '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
)
proc_name = "customer-order-service"

# --- Control socket (gunicorn >= 24; older versions ignore the setting) ----------------
# Off: nothing in the deployment uses it, and it would need a writable $HOME, which a
# container with a read-only root filesystem does not have.
control_socket_disable = not _bool("GUNICORN_CONTROL_SOCKET", False)


def on_starting(server: Any) -> None:
    """Check the settings once in the master so a bad configuration stops the start-up.

    Without this, every worker would fail to boot with the same traceback. Gunicorn prints
    a ``RuntimeError`` raised here as ``Error: <message>`` and exits with status 1.
    """
    try:
        from app.config import ConfigurationError, Settings
    except ImportError:  # another WSGI app served with this file: nothing to check
        return
    environ: dict[str, str] = {}
    try:  # the app reads a .env file too (development): judge what the workers will see
        from dotenv import dotenv_values

        environ.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
    except ImportError:
        pass
    environ.update(os.environ)
    try:
        Settings.from_env(environ)
    except ConfigurationError as error:
        raise RuntimeError(f"configuration refused: {error}") from error
    server.log.info(
        "workers=%s threads=%s timeout=%ss graceful_timeout=%ss bind=%s",
        workers,
        threads,
        timeout,
        graceful_timeout,
        ",".join(bind),
    )


def when_ready(server: Any) -> None:
    """Start the Prometheus multiprocess directory empty: old workers' counts are stale."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the Prometheus multiprocess directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

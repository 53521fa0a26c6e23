"""Command-line commands: ``flask --app app <command>``."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import click
from flask import Flask

from app.adapters.sqlalchemy.migrate import upgrade_database
from app.entrypoints.dependencies import services
from app.services import housekeeping, outbox
from app.services.sms import RetryPolicy

if TYPE_CHECKING:
    from app.bootstrap import Services

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL_SECONDS = 3600


def register_commands(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate() -> None:
        """Bring the database schema up to date (Alembic upgrade to head)."""
        url = services(app).settings.database_url
        upgrade_database(url)
        click.echo("database is up to date")

    @app.cli.command("sms-worker")
    @click.option("--once", is_flag=True, help="Send everything that is due, then exit.")
    def sms_worker(once: bool) -> None:
        """Send queued SMS until stopped (SIGTERM or Ctrl-C finish the messages in hand)."""
        deps = services(app)
        os.nice(deps.settings.sms_worker_nice)
        worker = _worker(deps)
        try:
            if once:
                click.echo(f"sent or settled {worker.drain()} messages")
                return
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            click.echo("sms worker started", err=True)
            threading.Thread(target=_forget_expired_hourly, args=(deps, stop),
                             name="housekeeping", daemon=True).start()
            worker.run(stop)
            click.echo("sms worker stopped", err=True)
        finally:
            worker.close()

    @app.cli.command("cleanup")
    def cleanup() -> None:
        """Forget idempotency keys older than a day and revocations of expired tokens."""
        deps = services(app)
        forgotten = housekeeping.forget_expired(uow=deps.uow(), clock=deps.clock)
        click.echo(f"forgot {forgotten.idempotency_keys} idempotency keys and "
                   f"{forgotten.revoked_tokens} revoked tokens")

    @app.cli.command("sms-requeue-failed")
    def sms_requeue_failed() -> None:
        """Give every failed SMS a fresh set of attempts (after fixing the cause)."""
        deps = services(app)
        count = outbox.requeue_failed(uow=deps.uow(), clock=deps.clock)
        click.echo(f"requeued {count} failed messages")


def _forget_expired_hourly(deps: Services, stop: threading.Event) -> None:
    """The worker runs on every deployment, so the cleanup rides along with it."""
    while True:
        try:
            housekeeping.forget_expired(uow=deps.uow(), clock=deps.clock)
        except Exception:
            log.exception("cleanup failed; trying again in an hour")
        if stop.wait(HOUSEKEEPING_INTERVAL_SECONDS):
            return


def _worker(deps: Services) -> outbox.OutboxWorker:
    settings = deps.settings
    policy = RetryPolicy(base_delay=timedelta(seconds=settings.sms_retry_base_seconds),
                         max_delay=max(timedelta(hours=1),
                                       timedelta(seconds=settings.sms_retry_base_seconds)),
                         max_attempts=settings.sms_max_attempts)
    return outbox.OutboxWorker(
        uow=deps.uow, gateway=deps.sms_gateway(), clock=deps.clock, policy=policy,
        settings=outbox.WorkerSettings(
            concurrency=settings.sms_worker_concurrency,
            poll_interval=settings.sms_worker_poll_seconds,
            lease=timedelta(seconds=settings.sms_worker_lease_seconds),
        ),
    )

"""Command-line commands: ``flask --app app <command>``."""

from __future__ import annotations

import logging
import os
import signal
import threading
import urllib.request
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

import click
from flask import Flask
from prometheus_client import start_http_server

from app.adapters.sqlalchemy.migrate import upgrade_database
from app.entrypoints.dependencies import services
from app.entrypoints.metrics import PrometheusWorkerMetrics, read_worker_metrics, worker_registry
from app.services import housekeeping, outbox
from app.services.ports import OutboxSummary
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
        if once:
            click.echo(f"sent or settled {_worker(deps).drain()} messages")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        metrics_server = _serve_worker_metrics(deps)
        worker = _worker(deps, metrics=metrics_server[1] if metrics_server else None)
        click.echo("sms worker started", err=True)
        threading.Thread(target=_forget_expired_hourly, args=(deps, stop),
                         name="housekeeping", daemon=True).start()
        try:
            worker.run(stop)
        finally:
            if metrics_server:
                metrics_server[0].shutdown()
        click.echo("sms worker stopped", err=True)

    @app.cli.command("sms-status")
    @click.option("--worker", "worker_urls", multiple=True, metavar="URL",
                  help="A worker's metrics page; by default SMS_WORKER_METRICS_ADDRESS here.")
    def sms_status(worker_urls: tuple[str, ...]) -> None:
        """The outbox and the SMS workers at a glance: what /metrics shows, for people."""
        deps = services(app)
        now = deps.clock()
        summary = outbox.outbox_summary(uow=deps.read_uow(), clock=lambda: now)
        waited = ("none waits" if summary.oldest_due_at is None
                  else f"the oldest waiting {(now - summary.oldest_due_at).total_seconds():.1f} s")
        click.echo(f"queue: {summary.due:,} due and waiting for a worker ({waited})")
        click.echo("messages: " + ", ".join(
            f"{count:,} {status.value}" for status, count in sorted(summary.by_status.items()))
            if summary.by_status else "messages: none")
        urls = list(worker_urls)
        if not urls and deps.settings.sms_worker_metrics_address:
            host, port = deps.settings.worker_metrics_endpoint
            reachable = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
            urls.append(f"http://{reachable}:{port}/metrics")
        if not urls:
            click.echo("workers: none to ask (set SMS_WORKER_METRICS_ADDRESS, or --worker URL)")
        for url in urls:
            click.echo(_worker_status(url))

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


def _worker(deps: Services, *, metrics: outbox.WorkerMetrics | None = None
            ) -> outbox.OutboxWorker:
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
        wakeup=deps.outbox_wakeup(), metrics=metrics,
    )


def _serve_worker_metrics(deps: Services
                          ) -> tuple[WSGIServer, PrometheusWorkerMetrics] | None:
    """The worker's metrics page, when SMS_WORKER_METRICS_ADDRESS asks for one."""
    if not deps.settings.sms_worker_metrics_address:
        return None
    host, port = deps.settings.worker_metrics_endpoint

    def summary() -> tuple[OutboxSummary, datetime]:
        now = deps.clock()
        return outbox.outbox_summary(uow=deps.read_uow(), clock=lambda: now), now

    registry, metrics = worker_registry(summary)
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        log.warning("cannot serve the worker's metrics at %s:%s (%s); sending without them",
                    host, port, error)
        return None
    return server, metrics


def _worker_status(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the operator's
            report = read_worker_metrics(answer.read().decode())
    except OSError as error:
        return f"worker {url}: no answer ({error})"
    latency = ("no SMS sent yet" if report.p50 is None or report.p99 is None
               else f"p50 {report.p50:.2f} s, p99 {report.p99:.2f} s over {report.sent:,.0f} sent")
    answers = ", ".join(f"{count:,.0f} {outcome}"
                        for outcome, count in sorted(report.answers.items())) or "none"
    return (f"worker {url}:\n"
            f"  in flight: {report.in_flight:.0f} of {report.limit:.0f} allowed now\n"
            f"  queued to gateway: {latency}\n"
            f"  gateway answers: {answers}")

"""Prometheus metrics: the web's at ``/metrics`` (requests by endpoint and status, and the SMS
outbox), and the SMS worker's on a port of its own (``SMS_WORKER_METRICS_ADDRESS``: its sends
in flight and how long SMS took from being queued to the gateway, and the outbox).

Off unless ``METRICS_ENABLED``. Under gunicorn, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
writable directory so that every worker's counts add up in one scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from app.entrypoints.dependencies import services
from app.services import outbox
from app.services.ports import OutboxSummary
from app.services.sms import PermanentFailure, SendOutcome, Sent

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# From the SMS being queued to the gateway's answer: a second is the promise; retries and
# messages held back for a day's cap land in the long tail.
QUEUED_TO_GATEWAY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60,
                             300, 3600, 86400)
QUEUED_TO_GATEWAY = "sms_order_to_gateway_seconds"


class OutboxCollector(Collector):
    """The outbox when scraped, in one query: messages by status, how many are due and
    waiting for a worker, and how long the one waiting longest has been due."""

    def __init__(self, summary: Callable[[], tuple[OutboxSummary, datetime]]) -> None:
        self._summary = summary

    def collect(self) -> Iterator[GaugeMetricFamily]:
        summary, now = self._summary()
        family = GaugeMetricFamily("sms_messages", "SMS messages in the outbox by status",
                                   labels=["status"])
        for status, count in sorted(summary.by_status.items()):
            family.add_metric([status.value], count)
        yield family
        yield GaugeMetricFamily("sms_queue_depth",
                                "SMS due and waiting for a worker to take them",
                                value=summary.due)
        yield GaugeMetricFamily("sms_queue_oldest_age_seconds",
                                "How long the SMS waiting longest has been due (0: none waits)",
                                value=_waited(summary, now))


def _waited(summary: OutboxSummary, now: datetime) -> float:
    if summary.oldest_due_at is None:
        return 0.0
    return max(0.0, (now - summary.oldest_due_at).total_seconds())


class PrometheusWorkerMetrics(outbox.WorkerMetrics):
    """The SMS worker's own metrics, in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._in_flight = Gauge("sms_sends_in_flight", "SMS sends waiting for the gateway",
                                registry=registry)
        self._limit = Gauge("sms_send_limit", "SMS sends the worker allows in flight now "
                            "(lowered while the gateway pushes back)", registry=registry)
        self._latency = Histogram(QUEUED_TO_GATEWAY, "From an SMS being queued (its order "
                                  "placed) to the gateway accepting it",
                                  buckets=QUEUED_TO_GATEWAY_BUCKETS, registry=registry)
        self._answers = Counter("sms_gateway_answers", "Answers of the SMS gateway by outcome",
                                ["outcome"], registry=registry)

    def sending(self, in_flight: int, limit: int) -> None:
        self._in_flight.set(in_flight)
        self._limit.set(limit)

    def answered(self, outcome: SendOutcome, *, since_queued: timedelta) -> None:
        if isinstance(outcome, Sent):
            self._latency.observe(since_queued.total_seconds())
            self._answers.labels("sent").inc()
        else:
            failed = isinstance(outcome, PermanentFailure)
            self._answers.labels("refused" if failed else "retry").inc()


def worker_registry(summary: Callable[[], tuple[OutboxSummary, datetime]]
                    ) -> tuple[CollectorRegistry, PrometheusWorkerMetrics]:
    registry = CollectorRegistry(auto_describe=True)
    metrics = PrometheusWorkerMetrics(registry)
    registry.register(OutboxCollector(summary))
    return registry, metrics


@dataclass(frozen=True)
class WorkerReport:
    """What a worker's metrics say, for an operator."""

    in_flight: float
    limit: float
    answers: dict[str, float]
    sent: float
    p50: float | None
    p99: float | None


def read_worker_metrics(text: str) -> WorkerReport:
    """A worker's metrics page, read back."""
    samples = {}
    buckets: list[tuple[float, float]] = []
    answers: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{QUEUED_TO_GATEWAY}_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "sms_gateway_answers_total":
                answers[sample.labels["outcome"]] = sample.value
            else:
                samples[sample.name] = sample.value
    buckets.sort()
    return WorkerReport(
        in_flight=samples.get("sms_sends_in_flight", 0.0),
        limit=samples.get("sms_send_limit", 0.0),
        answers=answers, sent=buckets[-1][1] if buckets else 0.0,
        p50=quantile(0.5, buckets), p99=quantile(0.99, buckets))


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a histogram's cumulative (upper bound, count) buckets, in
    ascending order, interpolated within its bucket as Prometheus's histogram_quantile does;
    None without observations."""
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / ((count - below) or 1)
        lower, below = upper, count
    return lower


def install_metrics(app: Flask) -> None:
    # Each app gets its own registry: several apps in one process (tests) never collide.
    registry = CollectorRegistry(auto_describe=True)
    requests_total = Counter("http_requests_total", "HTTP requests answered",
                             ["method", "endpoint", "status"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "Time to answer HTTP requests",
                        ["method", "endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
    limited = Counter("limit_reached_total",
                      "Requests refused and SMS held back or left unanswered, by limit",
                      ["limit"], registry=registry)
    services(app).limits.listeners.append(lambda limit: limited.labels(limit).inc())

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        # The route's pattern, not the path: order ids would make one series per order.
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("metrics_started", time.perf_counter())
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        latency.labels(request.method, endpoint).observe(elapsed)
        return response

    def summary() -> tuple[OutboxSummary, datetime]:
        with app.app_context():
            deps = services()
            return outbox.outbox_summary(uow=deps.read_uow(), clock=deps.clock), deps.clock()

    scrape = _scrape_registry(registry)
    scrape.register(OutboxCollector(summary))

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)


def _scrape_registry(own: CollectorRegistry) -> CollectorRegistry:
    """The app's registry, or under gunicorn the sum over every worker's files."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return own
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return combined

"""Prometheus metrics at ``/metrics``: requests by endpoint and status, and the SMS outbox.

Off unless ``METRICS_ENABLED``. Under gunicorn, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
writable directory so that every worker's counts add up in one scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.entrypoints.dependencies import services
from app.services import outbox

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class OutboxCollector(Collector):
    """Counts the outbox's messages by status when scraped (one grouped query)."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("sms_messages", "SMS messages in the outbox by status",
                                   labels=["status"])
        with self._app.app_context():
            counts = outbox.outbox_counts(uow=services().read_uow())
        for status, count in sorted(counts.items()):
            family.add_metric([status.value], count)
        yield family


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

    scrape = _scrape_registry(registry)
    scrape.register(OutboxCollector(app))

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

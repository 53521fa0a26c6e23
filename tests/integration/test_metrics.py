"""Prometheus metrics, when an operator turns them on."""

import requests

from app.adapters.sqlalchemy.migrate import upgrade_database
from tests.integration.gunicorn_process import environment, gunicorn
from tests.integration.live_server import live_app, settings_for_tests


def test_metrics_are_off_by_default(api):
    assert api.get("/metrics").status_code == 404


def test_metrics_count_requests_by_route_and_the_outbox_by_status(
        database_url, clean_tables, customer, admin, api):
    with live_app(settings_for_tests(database_url, metrics_enabled=True)) as client:
        client.post("/api/orders/create/", token=admin.access_token,
                    json={"customer_code": customer["code"], "item": "Maize", "amount": "1"})
        client.get("/api/orders/7f0e4a4e-0000-4000-8000-000000000000/", token=admin.access_token)

        text = client.get("/metrics").text

    assert ('http_requests_total{endpoint="/api/orders/create/",method="POST",status="201"} 1.0'
            in text)
    assert ('http_requests_total{endpoint="/api/orders/<uuid:order_id>/",method="GET",'
            'status="404"} 1.0' in text)
    assert 'http_request_duration_seconds_bucket{endpoint="/api/orders/create/"' in text
    assert 'sms_messages{status="queued"} 1.0' in text


def test_under_gunicorn_every_workers_requests_add_up(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    upgrade_database(database_url)
    env = environment(DATABASE_URL=database_url, METRICS_ENABLED="true",
                      PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))

    with gunicorn(env) as base:
        before = _healthz_count(requests.get(f"{base}/metrics", timeout=5).text)
        for _ in range(40):  # new connections each time, so both workers answer some
            requests.get(f"{base}/healthz", timeout=5)
        after = _healthz_count(requests.get(f"{base}/metrics", timeout=5).text)

    assert after - before == 40


def _healthz_count(text: str) -> float:
    [line] = [line for line in text.splitlines()
              if line.startswith('http_requests_total{endpoint="/healthz"')]
    return float(line.rsplit(" ", 1)[1])

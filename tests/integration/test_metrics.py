"""Prometheus metrics, when an operator turns them on."""

from tests.integration.live_server import live_app, settings_for_tests


def test_metrics_are_off_by_default(api):
    assert api.get("/metrics").status_code == 404


def test_metrics_count_requests_by_route_and_the_outbox_by_status(
        database_url, clean_tables, customer, admin, api):
    with live_app(settings_for_tests(database_url, metrics_enabled=True)) as client:
        client.post("/api/orders/create/", token=admin.access_token,
                    json={"customer_code": customer["code"], "item": "Maize", "amount": "1"})
        client.get("/api/orders/not-a-uuid/", token=admin.access_token)

        text = client.get("/metrics").text

    assert ('http_requests_total{endpoint="/api/orders/create/",method="POST",status="201"} 1.0'
            in text)
    assert ('http_requests_total{endpoint="/api/orders/<string:order_id>/",method="GET",'
            'status="404"} 1.0' in text)
    assert 'http_request_duration_seconds_bucket{endpoint="/api/orders/create/"' in text
    assert 'sms_messages{status="queued"} 1.0' in text


def test_under_gunicorn_every_workers_requests_add_up(tmp_path):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    from app.adapters.sqlalchemy.migrate import upgrade_database

    root = Path(__file__).resolve().parents[2]
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    upgrade_database(database_url)
    port = _free_port()
    env = os.environ | {"DATABASE_URL": database_url, "METRICS_ENABLED": "true",
                        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
                        "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2",
                        "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024"}
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config",
         str(root / "deploy" / "gunicorn.conf.py"), "app:create_app()"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:  # listening, but workers still booting
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        before = _healthz_count(requests.get(f"{base}/metrics", timeout=5).text)
        for _ in range(40):  # new connections each time, so both workers answer some
            requests.get(f"{base}/healthz", timeout=5)
        after = _healthz_count(requests.get(f"{base}/metrics", timeout=5).text)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    assert after - before == 40


def _healthz_count(text: str) -> float:
    [line] = [line for line in text.splitlines()
              if line.startswith('http_requests_total{endpoint="/healthz"')]
    return float(line.rsplit(" ", 1)[1])


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

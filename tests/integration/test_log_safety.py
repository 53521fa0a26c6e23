"""What the service and its proxy write to their logs: one line per record, whatever a
client sends, and neither the callback secret nor the values of a failed SQL statement.

The app runs as production runs it (gunicorn with deploy/gunicorn.conf.py, text logs on
stderr) and Caddy with deploy/Caddyfile, each in a process whose output the test reads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest
import requests
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from app.adapters.sqlalchemy.migrate import upgrade_database
from app.adapters.sqlalchemy.tables import incoming_sms
from app.entrypoints.observability import TextFormatter
from tests.integration.gunicorn_process import COMMAND, ROOT, environment, free_port

TOKEN = "s3cret-callback-token-of-the-operator"
FORGED = "2026-01-01 00:00:00,000 WARNING app.web signed in as admin@example.com"
CADDYFILE = ROOT / "deploy" / "Caddyfile"


@dataclass
class Service:
    """gunicorn serving the app, with every line it writes to stderr so far."""

    base_url: str
    lines: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[requests.Response,
                                                                    list[str]]:
        """Send a request; returns the answer and the log once its access line is in."""
        request_id = uuid4().hex
        response = requests.request(method, self.base_url + path, timeout=10,
                                    headers={"X-Request-ID": request_id}, **kwargs)
        deadline = time.monotonic() + 10
        while not any(f"id={request_id}" in line for line in list(self.lines)):
            assert time.monotonic() < deadline, f"no access line for {request_id}"
            time.sleep(0.02)
        return response, list(self.lines)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('logs') / 'orders.db'}"
    upgrade_database(database_url)
    env = environment(
        DATABASE_URL=database_url, LOG_FORMAT="text", LOG_LEVEL="INFO", WEB_CONCURRENCY="1",
        AT_CALLBACK_TOKEN=TOKEN,
        # Only the provider's error answer is exercised: nothing is fetched from the issuer.
        OIDC_ISSUER="http://127.0.0.1:9", OIDC_CLIENT_ID="orders", OIDC_CLIENT_SECRET="x",
    )
    port = free_port()
    process = subprocess.Popen(COMMAND, cwd=ROOT, env=env | {"PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    running = Service(f"http://127.0.0.1:{port}")
    reader = threading.Thread(target=lambda: running.lines.extend(
        line.rstrip("\n") for line in process.stderr), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "\n".join(running.lines)
            try:
                requests.get(f"{running.base_url}/healthz", timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


class TestOneLinePerRecord:
    def test_a_newline_in_a_path_cannot_forge_a_log_line(self, service):
        path = quote(f"/nothing\n{FORGED} forged-by-path\r\x1b[2K")

        response, log = service.request("GET", path)

        assert response.status_code == 404
        assert not any(line.startswith(FORGED) for line in log)
        [record] = [line for line in log if "forged-by-path" in line]
        assert "app.access GET /nothing\\n2026-01-01" in record
        assert "\\r\\x1b[2K 404" in record

    def test_a_newline_in_a_providers_error_cannot_forge_a_log_line(self, service):
        response, log = service.request("GET", "/auth/dev/callback/", params={
            "error": "invalid_request", "state": "x",
            "error_description": f"denied\n{FORGED} forged-by-provider\u2028\u2029"})

        assert response.status_code in {400, 502}
        assert not any(line.startswith(FORGED) for line in log)
        [record] = [line for line in log if "forged-by-provider" in line]
        assert "sign-in refused" in record
        assert "denied\\n2026-01-01" in record
        assert "\\u2028\\u2029" in record


    def test_an_exception_is_logged_on_one_line_with_its_message_escaped(self):
        try:
            raise ValueError(f"no order named {FORGED!r}\n{FORGED} forged-by-exception")
        except ValueError:
            record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed: %s",
                                       ("\x1b[31mred",), sys.exc_info())

        [line] = TextFormatter("%(levelname)s %(name)s %(message)s").format(record).splitlines()

        assert line.startswith("ERROR app failed: \\x1b[31mred\\nTraceback")
        assert f"ValueError: no order named '{FORGED}'\\n{FORGED} forged-by-exception" in line


class TestCallbackTokenStaysOutOfLogs:
    @pytest.mark.parametrize(("method", "status"), [("POST", 200), ("GET", 405)])
    def test_the_app_logs_the_callback_route_without_the_token(self, service, method,
                                                               status):
        response, log = service.request(
            method, f"/callbacks/africastalking/incoming-messages/{TOKEN}",
            data={"from": "+254719485369", "id": f"ATXid_{uuid4().hex}", "text": "YES"})

        assert response.status_code == status
        assert not any(TOKEN in line for line in log)
        assert any(f"{method} /callbacks/africastalking/incoming-messages/[redacted] {status}"
                   in line for line in log)

    @pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
    def test_caddy_logs_the_callback_route_without_the_token(self, tmp_path):
        with caddy(tmp_path) as (base_url, output):
            # Nothing listens where the app would be, as while it restarts: Caddy writes an
            # error line besides the access line.
            answer = requests.post(
                f"{base_url}/callbacks/africastalking/delivery-reports/{TOKEN}",
                data={"id": "ATXid_1", "status": "Success"}, timeout=10)

        assert answer.status_code == 502
        assert TOKEN not in output.read_text()
        logged = [entry for entry in map(json.loads, output.read_text().splitlines())
                  if entry.get("request", {}).get("uri", "").startswith("/callbacks/")]
        assert {entry["logger"] for entry in logged} >= {"http.log.access.log0",
                                                          "http.log.error.log0"}
        assert {entry["request"]["uri"] for entry in logged} == {
            "/callbacks/africastalking/delivery-reports/[redacted]"}


@contextmanager
def caddy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Caddy with deploy/Caddyfile on a free port, its upstream a port nobody listens on;
    yields its base URL and the file that holds its stdout and stderr."""
    port = free_port()
    env = os.environ | {"SITE_ADDRESS": f":{port}", "HOME": str(tmp_path),
                        "XDG_DATA_HOME": str(tmp_path / "data"),
                        "XDG_CONFIG_HOME": str(tmp_path / "config")}
    adapted = subprocess.run(["caddy", "adapt", "--adapter", "caddyfile", "--config",
                              str(CADDYFILE)], env=env, capture_output=True, text=True,
                             check=True)
    config = json.loads(adapted.stdout)
    config["admin"] = {"disabled": True}
    text = json.dumps(config)
    assert '"web:8000"' in text
    config_file = tmp_path / "caddy.json"
    config_file.write_text(text.replace('"web:8000"', f'"127.0.0.1:{free_port()}"'))
    output = tmp_path / "caddy.log"
    with output.open("w") as sink:
        process = subprocess.Popen(["caddy", "run", "--config", str(config_file)],
                                   env=env, stdout=sink, stderr=sink)
        try:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, output.read_text()
                try:
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "caddy did not start"
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", output
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_a_database_error_names_no_value_it_was_given(engine, clean_tables):
    # A reply naming an order that does not exist breaks the foreign key on every database.
    row = {"id": uuid4(), "provider_message_id": "ATXid_leak", "sender": "+254719485369",
           "text": "my private words", "received_at": datetime.now(UTC),
           "outcome": "confirmed", "order_id": uuid4()}

    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        connection.execute(insert(incoming_sms), row)

    logged = "".join(traceback.format_exception(raised.value))
    assert "incoming_sms" in logged
    assert "my private words" not in logged
    assert "+254719485369" not in logged

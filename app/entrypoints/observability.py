"""Request ids, one log line per request, and log formatting."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from app.config import Settings
from app.entrypoints import callbacks

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("app.access")


# Control characters (Cc) and the Unicode line and paragraph separators: any of them in a
# logged value could end a text log line early and start a forged one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(character: re.Match[str]) -> str:
    char = character.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class TextFormatter(logging.Formatter):
    """One line per record: control characters anywhere in it, the message's values and an
    exception's text alike, are written as backslash escapes (as the JSON format does)."""

    def format(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(_escaped, super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings) -> None:
    """Send the app's logs to stderr once per process, as text or JSON."""
    logger = logging.getLogger("app")
    logger.setLevel(settings.log_level.upper())
    if any(getattr(h, "_order_service", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._order_service = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)


def install_request_logging(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        fields = {"method": request.method, "path": callbacks.path_for_logs(request.path),
                  "status": response.status_code, "duration_ms": round(elapsed_ms, 1),
                  "request_id": request_id}
        access_log.info("%(method)s %(path)s %(status)s %(duration_ms)sms id=%(request_id)s",
                        fields, extra={"fields": fields})
        return response

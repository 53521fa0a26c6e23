"""A development SMS gateway: prints each message instead of sending it."""

from __future__ import annotations

import sys
import threading
from typing import TextIO
from uuid import uuid4

from app.services.sms import SendOutcome, Sent, SmsGateway


class ConsoleSmsGateway(SmsGateway):
    """Prints one block per message to ``stream`` (standard output by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        # Workers send concurrently; one lock keeps each block in one piece.
        self._lock = threading.Lock()

    def send(self, to: str, text: str) -> SendOutcome:
        message_id = f"console-{uuid4()}"
        block = f"--- SMS to {to} ({message_id}) ---\n{text}\n--- end of SMS ---\n"
        # Looked up at each send, so a stdout replaced later (tests, CLI runners) is used.
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(block)
            stream.flush()
        return Sent(provider_message_id=message_id, cost=None)

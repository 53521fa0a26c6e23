"""A development SMS gateway: prints each message instead of sending it."""

from __future__ import annotations

import sys
from typing import TextIO
from uuid import uuid4

from app.services.sms import SendOutcome, Sent, SmsGateway


class ConsoleSmsGateway(SmsGateway):
    """Prints one block per message to ``stream`` (standard output by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, to: str, text: str) -> SendOutcome:
        message_id = f"console-{uuid4()}"
        block = f"--- SMS to {to} ({message_id}) ---\n{text}\n--- end of SMS ---\n"
        # Looked up at each send, so a stdout replaced later (tests, CLI runners) is used.
        # One write between awaits: the sends of one event loop never interleave blocks.
        stream = self._stream or sys.stdout
        stream.write(block)
        stream.flush()
        return Sent(provider_message_id=message_id, cost=None)

"""An in-memory SMS gateway for unit tests (to be folded into ``fakes.py``)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

from app.services.sms import SendOutcome, Sent, SmsGateway


class RecordingSmsGateway(SmsGateway):
    """Records every (to, text) it is asked to send; answers from a script, then Sent."""

    def __init__(self, outcomes: Iterable[SendOutcome] = ()) -> None:
        self.messages: list[tuple[str, str]] = []
        self._script = deque(outcomes)
        self._ids = itertools.count(1)

    def send(self, to: str, text: str) -> SendOutcome:
        self.messages.append((to, text))
        if self._script:
            return self._script.popleft()
        return Sent(provider_message_id=f"fake-{next(self._ids)}", cost=None)

    def messages_to(self, to: str) -> list[str]:
        return [text for recipient, text in self.messages if recipient == to]

"""Wake-ups for the outbox worker from PostgreSQL: LISTEN on the channel that inserts into
sms_outbox notify (migration 0007), on a connection of its own."""

from __future__ import annotations

import asyncio
import logging

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from app.adapters.sqlalchemy.database import (
    APPLICATION_NAME,
    CONNECT_TIMEOUT_SECONDS,
    SILENT_NETWORK_LIMITS,
)
from app.services.ports import OutboxWakeup

log = logging.getLogger(__name__)

CHANNEL = "sms_outbox"
# After a lost connection: the first try again, doubling up to the last.
FIRST_RECONNECT_SECONDS = 0.5
LAST_RECONNECT_SECONDS = 30.0


class PostgresOutboxWakeup(OutboxWakeup):
    """Wakes the worker at each notification on ``sms_outbox``.

    A connection that drops (the keep-alive probes of ``SILENT_NETWORK_LIMITS`` tell within
    seconds when the network goes silent) is opened again, and its return wakes the worker:
    whatever was queued meanwhile went unheard. Until then the worker polls.
    """

    def __init__(self, database_url: str) -> None:
        self._conninfo = make_conninfo(
            make_url(database_url).set(drivername="postgresql").render_as_string(
                hide_password=False),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=f"{APPLICATION_NAME}-sms-wakeup", **SILENT_NETWORK_LIMITS)
        self._heard: asyncio.Event | None = None
        self._listener: asyncio.Task[None] | None = None

    async def wait(self, timeout: float) -> bool:
        if self._listener is None:
            # Made in the event loop that waits: they belong to it until aclose().
            self._heard = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self._heard))
        assert self._heard is not None
        try:
            async with asyncio.timeout(timeout):
                await self._heard.wait()
        except TimeoutError:
            return False
        self._heard.clear()
        return True

    async def aclose(self) -> None:
        listener, self._listener, self._heard = self._listener, None, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _listen(self, heard: asyncio.Event) -> None:
        delay = FIRST_RECONNECT_SECONDS
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(self._conninfo,
                                                                   autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    heard.set()
                    delay = FIRST_RECONNECT_SECONDS
                    async for _ in connection.notifies():
                        heard.set()
            except psycopg.Error as error:
                log.warning("listening for queued sms failed (%s); polling until it is back, "
                            "next try in %g s", type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RECONNECT_SECONDS)

"""The composition root: turns settings into adapters and hands them to the entrypoints."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.adapters.oidc import AuthlibIdentityProvider
from app.adapters.passwords import Argon2PasswordHasher
from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.adapters.sms.console import ConsoleSmsGateway
from app.adapters.sqlalchemy.database import create_engine_for, database_answers
from app.adapters.sqlalchemy.unit_of_work import SharedConnections, SqlAlchemyUnitOfWork
from app.config import Settings
from app.services.limits import Limits
from app.services.outbox import Polling
from app.services.ports import Clock, OutboxWakeup, PasswordHasher, UnitOfWork
from app.services.signin import IdentityProvider
from app.services.sms import SmsGateway
from app.services.users import PhoneCodes


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Everything a use case may be handed, built once per process."""

    settings: Settings
    uow: Callable[[], UnitOfWork]
    # For use cases that only read: no transaction is opened, which spares each request
    # the BEGIN and ROLLBACK round trips. Never for a use case that writes.
    read_uow: Callable[[], UnitOfWork]
    # Around each request: its units of work share one pooled connection.
    begin_request: Callable[[], None]
    end_request: Callable[[], None]
    clock: Clock
    hasher: PasswordHasher
    decoy_password_hash: str
    database_answers: Callable[[], bool]
    dispose: Callable[[], None]
    identity_provider: IdentityProvider
    sms_gateway: Callable[[], SmsGateway]
    outbox_wakeup: Callable[[], OutboxWakeup]
    limits: Limits
    phone_codes: PhoneCodes


def bootstrap(settings: Settings) -> Services:
    engine = create_engine_for(settings.database_url, pool_size=settings.database_pool_size)
    shared = SharedConnections(engine)
    hasher = Argon2PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
    )
    return Services(
        settings=settings,
        uow=lambda: SqlAlchemyUnitOfWork(engine, shared=shared),
        read_uow=lambda: SqlAlchemyUnitOfWork(engine, read_only=True, shared=shared),
        begin_request=shared.open,
        end_request=shared.close,
        clock=utc_now,
        hasher=hasher,
        # Unknown emails are checked against this hash so that they cost as much as known ones.
        decoy_password_hash=hasher.hash("no-such-user-decoy-password"),
        database_answers=lambda: database_answers(engine),
        dispose=engine.dispose,
        identity_provider=AuthlibIdentityProvider(settings),
        sms_gateway=lambda: sms_gateway_for(settings),
        outbox_wakeup=lambda: outbox_wakeup_for(settings),
        limits=limits_for(settings),
        # A key of its own, derived from the session secret, for the codes' digests.
        phone_codes=PhoneCodes(hmac.new(settings.secret_key.encode(), b"phone codes",
                                        hashlib.sha256).digest()),
    )


def limits_for(settings: Settings) -> Limits:
    return Limits(
        orders_per_person_per_day=settings.orders_per_person_per_day,
        sms_per_number_per_day=settings.sms_per_number_per_day,
        codes_per_number_per_day=settings.phone_codes_per_number_per_day,
        codes_per_person_per_day=settings.phone_codes_per_person_per_day,
        answers_per_stranger_per_hour=settings.sms_answers_per_stranger_per_hour,
        numbers=settings.textable_numbers,
    )


def sms_gateway_for(settings: Settings) -> SmsGateway:
    """The gateway the outbox worker sends through, as configured."""
    if settings.sms_backend == "africastalking":
        return AfricasTalkingSmsGateway(
            settings.at_username, settings.at_api_key,
            sender_id=settings.at_sender_id or None, base_url=settings.at_base_url or None,
            pool_size=settings.sms_worker_concurrency,
            send_deadline=settings.sms_send_deadline_seconds,
        )
    return ConsoleSmsGateway()


def outbox_wakeup_for(settings: Settings) -> OutboxWakeup:
    """What wakes the outbox worker: PostgreSQL's notifications, else its polling alone."""
    if not settings.database_url.startswith("postgresql"):
        return Polling()
    # Imported here: psycopg comes with the postgres extra only.
    from app.adapters.sqlalchemy.outbox_wakeup import PostgresOutboxWakeup

    return PostgresOutboxWakeup(settings.database_url)

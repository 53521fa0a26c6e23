"""How fast one SMS worker drains its queue against a gateway that takes 100 ms per message.

The baseline, measured in the same run, is what the gateway allows: ``concurrency / latency``
messages per second. A worker bound by the gateway, not by itself, stays close to it.

    .venv/bin/python -m bench.sms_worker [--messages 400] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import create_engine, text

from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.adapters.sqlalchemy.database import create_engine_for
from app.adapters.sqlalchemy.migrate import upgrade_database
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.domain.notifications import SmsMessage
from app.domain.values import PhoneNumber
from app.services import outbox
from app.services.sms import RetryPolicy
from tests.integration.fake_africastalking import FakeAfricasTalking, accept_all

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def measure(url: str, *, messages: int, concurrency: int, latency: float) -> float:
    engine = create_engine_for(url, pool_size=concurrency + 2)

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine)

    now = datetime.now(UTC)
    with uow() as work:
        for n in range(messages):
            work.outbox.add(SmsMessage(recipient=PhoneNumber("+254719485369"),
                                       text=f"bench {n}", created_at=now))
        work.commit()
    with FakeAfricasTalking(otherwise=accept_all(delay=latency)) as fake:
        worker = outbox.OutboxWorker(
            uow=uow, clock=lambda: datetime.now(UTC), policy=RetryPolicy(),
            gateway=AfricasTalkingSmsGateway("sandbox", "bench", base_url=fake.base_url,
                                             pool_size=concurrency),
            settings=outbox.WorkerSettings(concurrency=concurrency,
                                           lease=timedelta(minutes=5)),
        )
        started = time.perf_counter()
        handled = worker.drain()
        elapsed = time.perf_counter() - started
        worker.close()
    engine.dispose()
    assert handled == messages, f"drained {handled} of {messages}"
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    args = parser.parse_args()

    name = f"bench_sms_{uuid4().hex[:8]}"
    server = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade_database(url)
        print("| concurrency | messages/s | gateway allows | ratio |\n|---|---|---|---|")
        worst = 1.0
        for concurrency in args.concurrency:
            count = max(args.messages, concurrency * 20)
            rate = measure(url, messages=count, concurrency=concurrency,
                           latency=args.latency)
            ideal = concurrency / args.latency
            worst = min(worst, rate / ideal)
            print(f"| {concurrency} | {rate:.1f} | {ideal:.1f} | {rate / ideal:.2f} |",
                  flush=True)
        print(f"bench: sms worker worst ratio to gateway bound {worst:.2f}")
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


if __name__ == "__main__":
    main()

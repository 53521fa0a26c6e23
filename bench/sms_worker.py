"""How fast one SMS worker drains its queue against a gateway that takes 100 ms per message.

The baseline is what the gateway allows: ``concurrency / latency`` messages per second. A
worker bound by the gateway, not by itself, stays close to it. The gateway is
bench/fake_gateway.py in a process of its own; the worker runs in this one.

    .venv/bin/python -m bench.sms_worker [--messages 400] [--latency 0.1]
    .venv/bin/python -m bench.sms_worker --latency 0 --concurrency 200 --messages 20000 \
        --profile /tmp/sms-worker-profile.txt    # where the worker's time goes (pyinstrument)
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from pyinstrument import Profiler
from sqlalchemy import create_engine, text

from app.adapters.sms.africastalking import AfricasTalkingSmsGateway
from app.adapters.sqlalchemy.database import create_engine_for
from app.adapters.sqlalchemy.migrate import upgrade_database
from app.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from app.domain.notifications import SmsMessage
from app.domain.values import PhoneNumber
from app.services import outbox
from app.services.sms import RetryPolicy
from bench import servers

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def measure(url: str, *, messages: int, concurrency: int, latency: float,
            profile: str = "") -> float:
    engine = create_engine_for(url, pool_size=2)

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine)

    now = datetime.now(UTC)
    with uow() as work:
        for n in range(messages):
            work.outbox.add(SmsMessage(recipient=PhoneNumber("+254719485369"),
                                       text=f"bench {n}", created_at=now))
        work.commit()
    with servers.fake_gateway(latency) as gateway:
        worker = outbox.OutboxWorker(
            uow=uow, clock=lambda: datetime.now(UTC), policy=RetryPolicy(),
            gateway=AfricasTalkingSmsGateway("sandbox", "bench", base_url=gateway,
                                             pool_size=concurrency),
            settings=outbox.WorkerSettings(concurrency=concurrency,
                                           lease=timedelta(minutes=5)),
        )
        profiler = Profiler() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.start()
        handled = worker.drain()
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.stop()
            Path(profile).write_text(profiler.output_text(show_all=False))
    engine.dispose()
    assert handled == messages, f"drained {handled} of {messages}"
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 100, 200])
    parser.add_argument("--profile", default="", help="write a pyinstrument profile here")
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
                           latency=args.latency, profile=args.profile)
            if not args.latency:  # no bound from the gateway: the worker's own rate
                print(f"| {concurrency} | {rate:.1f} | - | - |", flush=True)
                continue
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

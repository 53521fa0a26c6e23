"""Order SMS end to end: orders placed over HTTP until their SMS reach the gateway.

    python -m bench.sms_e2e                    # everything, about 10 minutes
    python -m bench.sms_e2e --only burst --burst-seconds 10

On a fresh PostgreSQL database (10 thousand orders), the service under
``gunicorn --config deploy/gunicorn.conf.py`` and the worker as ``flask --app app sms-worker``,
both with production settings (the worker's defaults), and the fake gateway of
bench/fake_gateway.py, all on this machine:

- ceiling: wrk straight at the fake gateway, to show it is not what limits the rest;
- burst: 16 connections create orders for 30 s, then the queue drains; orders fully
  announced per second = orders / (the last of their SMS accepted by the gateway - the
  start), and order-to-gateway latency (an SMS's sent_at - its created_at) p50 / p99, with
  the gateway answering in 0 ms and in 150 ms;
- steady: 100 orders a second for 60 s from an open-loop client (latency counted from when
  each request was due, so a stall is not hidden), gateway 150 ms, with the worker and with
  it stopped, in two rounds taking turns: the web's p50 / p99, and order-to-gateway p99;
- drain: 20,000 SMS queued, then the worker alone sends them to a 0 ms gateway.

SMS_PER_NUMBER_PER_DAY is lifted, as the benchmark's few customers get thousands of SMS in
minutes (the cap would hold them to tomorrow); everything else is the production default.
The report goes to stdout and to bench/results/latest-sms.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import servers, wrk
from bench.dataset import Dataset, dsn, fresh_database
from bench.run import _create
from bench.wrk import Request

RESULTS = Path(__file__).resolve().parent / "results"
SMS_CAP_LIFTED = "1000000"
_WAITED = "extract(epoch FROM sent_at - created_at)"


@dataclass(frozen=True)
class Announced:
    """The order SMS queued since a moment, and how they reached the gateway."""

    orders: int
    sent: int
    seconds: float  # from the start until the last of them was accepted
    p50: float | None
    p99: float | None

    @property
    def per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0


def announced_since(dataset: Dataset, start: dt.datetime) -> Announced:
    with psycopg.connect(dsn(dataset.name)) as db:
        row = db.execute(
            "SELECT count(*), count(sent_at), max(sent_at), "
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_WAITED}), "
            f"percentile_cont(0.99) WITHIN GROUP (ORDER BY {_WAITED}) "
            "FROM sms_outbox WHERE kind = 'order_placed' AND created_at >= %s", (start,)
        ).fetchone()
    assert row is not None
    orders, sent, last, p50, p99 = row
    seconds = (last - start).total_seconds() if last else 0.0
    return Announced(orders, sent, seconds, p50, p99)


def queued(dataset: Dataset) -> int:
    with psycopg.connect(dsn(dataset.name)) as db:
        row = db.execute("SELECT count(*) FROM sms_outbox WHERE status = 'queued'").fetchone()
    return int(row[0]) if row else 0


def wait_until_drained(dataset: Dataset, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if queued(dataset) == 0:
            return True
        time.sleep(0.2)
    return False


def settle_outbox(dataset: Dataset) -> None:
    """Mark as sent whatever an earlier scenario left, so each starts with an empty queue."""
    with psycopg.connect(dsn(dataset.name)) as db:
        db.execute("UPDATE sms_outbox SET status = 'sent', sent_at = now(), "
                   "next_attempt_at = NULL WHERE status = 'queued'")


def ceiling(delay: float, connections: int, seconds: float) -> wrk.Result:
    body = "username=bench&to=%2B254700000000&message=Your+order&bulkSMSMode=1"
    with servers.fake_gateway(delay) as gateway:
        return wrk.run(gateway, [Request("POST", "/version1/messaging", body)],
                       seconds=seconds, connections=connections)


def burst(dataset: Dataset, service: str, env: dict[str, str], token: str, *, delay: float,
          seconds: float) -> tuple[wrk.Result, Announced, bool]:
    settle_outbox(dataset)
    with servers.fake_gateway(delay) as gateway, servers.sms_worker(env, gateway):
        start = dt.datetime.now(dt.UTC)
        load = wrk.run(service, _create(dataset), seconds=seconds, connections=16, token=token)
        drained = wait_until_drained(dataset, seconds=900)
    return load, announced_since(dataset, start), drained


@dataclass(frozen=True)
class Steady:
    requests: int
    failed: int
    p50_ms: float
    p99_ms: float


def steady_load(service: str, token: str, requests: list[Request], *, rate: float,
                seconds: float, clients: int = 16) -> Steady:
    """``rate`` requests a second for ``seconds``, each sent when due (open loop); latency
    from when it was due to its answer."""
    host, port = service.removeprefix("http://").split(":")
    due: queue.Queue[tuple[float, Request] | None] = queue.Queue()
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while (item := due.get()) is not None:
            when, request = item
            try:
                connection.request(request.method, request.path, request.body, headers)
                answer = connection.getresponse()
                answer.read()
                ok = 200 <= answer.status < 300
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            with lock:
                latencies.append(time.monotonic() - when)
                failed[0] += not ok

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        when = start + n / rate
        time.sleep(max(0.0, when - time.monotonic()))
        due.put((when, requests[n % len(requests)]))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join(timeout=60)
    ordered = sorted(latencies)
    return Steady(len(ordered), failed[0], _at(ordered, 0.5) * 1000, _at(ordered, 0.99) * 1000)


def _at(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def steady(dataset: Dataset, service: str, env: dict[str, str], token: str, *,
           with_worker: bool, rate: float, seconds: float) -> tuple[Steady, Announced | None]:
    settle_outbox(dataset)
    requests = _create(dataset)
    if not with_worker:
        return steady_load(service, token, requests, rate=rate, seconds=seconds), None
    with servers.fake_gateway(0.15) as gateway, servers.sms_worker(env, gateway):
        start = dt.datetime.now(dt.UTC)
        web = steady_load(service, token, requests, rate=rate, seconds=seconds)
        wait_until_drained(dataset, seconds=300)
    return web, announced_since(dataset, start)


def drain(dataset: Dataset, env: dict[str, str], *, messages: int) -> tuple[float, float]:
    """SMS/s at the gateway while the worker alone sends ``messages`` queued SMS, and the
    seconds until the last of them was recorded."""
    settle_outbox(dataset)
    with psycopg.connect(dsn(dataset.name)) as db:
        db.execute(
            "INSERT INTO sms_outbox (id, kind, recipient, text, status, attempts, "
            "next_attempt_at, created_at) SELECT gen_random_uuid(), 'notice', '+254700000001', "
            "'Drain ' || n, 'queued', 0, now(), now() FROM generate_series(1, %s) AS n",
            (messages,))
    with servers.fake_gateway(0.0) as gateway, servers.sms_worker(env, gateway):
        first, last = _timed_until(lambda: servers.gateway_sent(gateway), messages)
        drained = wait_until_drained(dataset, seconds=600)
        recorded = time.monotonic() - first
    assert drained, "the drain did not finish"
    return (messages - 1) / (last - first), recorded


def _timed_until(count: Callable[[], int], target: int) -> tuple[float, float]:
    """When ``count()`` first went above 0, and when it reached ``target``."""
    first = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        seen = count()
        now = time.monotonic()
        if seen and first is None:
            first = now
        if seen >= target:
            return first or now, now
        time.sleep(0.02)
    raise RuntimeError(f"the gateway saw fewer than {target} SMS")


def _commit() -> str:
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=servers.ROOT,
                               capture_output=True, text=True, check=True)
        changed = subprocess.run(["git", "status", "--porcelain", "--", "app", "bench"],
                                 cwd=servers.ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    dirty = " plus uncommitted changes to app/ and bench/" if changed.stdout.strip() else ""
    return found.stdout.strip() + dirty


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="ceiling, burst, steady or drain")
    parser.add_argument("--burst-seconds", type=float, default=30)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 0.15])
    parser.add_argument("--steady-rate", type=float, default=100)
    parser.add_argument("--steady-seconds", type=float, default=60)
    parser.add_argument("--steady-rounds", type=int, default=2)
    parser.add_argument("--drain", type=int, default=20_000)
    parser.add_argument("--output", default=str(RESULTS / "latest-sms.md"))
    options = parser.parse_args()
    wanted = set(options.only.split(",")) if options.only else {
        "ceiling", "burst", "steady", "drain"}
    wrk.require_wrk()
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    lines: list[str] = []
    keys = servers.Secrets.generate()

    def say(line: str = "") -> None:
        lines.append(line)
        print(line, flush=True)

    say("# Order SMS end to end (`python -m bench.sms_e2e`)")
    say()
    say(f"- commit measured: {_commit()}")
    say(f"- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs shared by "
        "PostgreSQL, gunicorn, the worker, the fake gateway and the load, 127.0.0.1 only; "
        "SMS_PER_NUMBER_PER_DAY lifted, the worker's settings its defaults")
    if "ceiling" in wanted:
        say()
        say("## The fake gateway's own ceiling (wrk straight at it, 10 s)")
        say()
        say("| delay | connections | answers/s | p50 ms | p99 ms |")
        say("|---|---:|---:|---:|---:|")
        for delay, connections in ((0.0, 200), (0.15, 1000)):
            result = ceiling(delay, connections, 10)
            say(f"| {delay * 1000:g} ms | {connections} | {result.rps:,.0f} | "
                f"{result.p50_ms:.1f} | {result.p99_ms:.1f} |")
    with fresh_database(10_000) as dataset:
        env = servers.production_env(dataset.url, keys, servers.free_port(),
                                     SMS_PER_NUMBER_PER_DAY=SMS_CAP_LIFTED)
        with servers.gunicorn("service", servers.SERVICE_APP, env) as service:
            token = servers.login(service, dataset)
            wrk.run(service, _create(dataset)[:20], seconds=2, connections=8, token=token)
            if "burst" in wanted:
                say()
                say(f"## Burst: 16 connections create orders for {options.burst_seconds:g} s, "
                    "then the queue drains")
                say()
                say("| gateway | orders/s accepted | orders | fully announced after s | "
                    "orders/s fully announced | order-to-gateway p50 s | p99 s |")
                say("|---|---:|---:|---:|---:|---:|---:|")
                settle_outbox(dataset)
                alone = wrk.run(service, _create(dataset), seconds=options.burst_seconds,
                                connections=16, token=token)
                say(f"| none: the web alone, no worker | {alone.rps:,.0f} | {alone.requests:,} "
                    "| - | - | - | - |")
                for delay in options.delays:
                    load, done, drained = burst(dataset, service, env, token, delay=delay,
                                                seconds=options.burst_seconds)
                    note = "" if drained and done.sent == done.orders else \
                        f" ({done.orders - done.sent:,} never sent)"
                    say(f"| {delay * 1000:g} ms | {load.rps:,.0f} | {done.orders:,} | "
                        f"{done.seconds:.1f} | {done.per_second:,.0f}{note} | "
                        f"{_seconds(done.p50)} | {_seconds(done.p99)} |")
            if "steady" in wanted:
                say()
                say(f"## Steady: {options.steady_rate:g} orders/s for "
                    f"{options.steady_seconds:g} s, gateway 150 ms")
                say()
                say("| worker | requests | failed | web p50 ms | web p99 ms | "
                    "order-to-gateway p50 s | p99 s |")
                say("|---|---:|---:|---:|---:|---:|---:|")
                p99s: dict[bool, list[float]] = {True: [], False: []}
                # Rounds in turns (running, stopped, then stopped, running, ...), so that the
                # machine's background load weighs on both alike.
                for round_ in range(options.steady_rounds):
                    for with_worker in (True, False) if round_ % 2 == 0 else (False, True):
                        web, sent = steady(dataset, service, env, token,
                                           with_worker=with_worker, rate=options.steady_rate,
                                           seconds=options.steady_seconds)
                        p99s[with_worker].append(web.p99_ms)
                        say(f"| {'running' if with_worker else 'stopped'} | {web.requests:,} | "
                            f"{web.failed} | {web.p50_ms:.1f} | {web.p99_ms:.1f} | "
                            f"{_seconds(sent.p50 if sent else None)} | "
                            f"{_seconds(sent.p99 if sent else None)} |")
                ratios = [a / b for a, b in zip(p99s[True], p99s[False], strict=True)]
                say()
                say("web p99 with the worker / without, round by round: "
                    + ", ".join(f"{ratio:.2f}" for ratio in ratios))
        if "drain" in wanted:
            say()
            say(f"## Drain: the worker alone sends {options.drain:,} queued SMS, gateway 0 ms")
            say()
            rate, recorded = drain(dataset, env, messages=options.drain)
            say(f"{rate:,.0f} SMS/s at the gateway; all {options.drain:,} recorded "
                f"{recorded:.1f} s after the first reached it")
    say()
    say(f"- run took {(time.perf_counter() - started) / 60:.1f} min; 1-minute load average "
        f"{load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    Path(options.output).write_text("\n".join(lines) + "\n")
    print(f"(written to {options.output})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

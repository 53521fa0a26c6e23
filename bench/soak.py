"""Soak: minutes of mixed admin traffic, then checks that nothing was lost or leaked.

    .venv/bin/python -m bench.soak                 # 10 minutes
    .venv/bin/python -m bench.soak --minutes 1     # a quick look

A fresh PostgreSQL database (bench/dataset.py), the service under
``gunicorn --config deploy/gunicorn.conf.py`` with production settings, the SMS worker
(``flask --app app sms-worker``) sending to the fake gateway (bench/fake_gateway.py), and
wrk (another process) replaying a mix of admin requests: placing orders, reading them,
listing orders, a customer's orders, users and customers. After a warm-up the resident
memory (VmRSS) of each gunicorn worker is read, the load runs in one-minute rounds, and at
the end:

- every order in the database has the SMS that announces it (the outbox row);
- every 201 gunicorn logged is an order in the database, and no answer was a 5xx;
- the workers' resident memory grew less than 10 % from the warm-up to the end.

A Markdown report goes to stdout and bench/results/<date>-soak.md; the last line is
``soak: PASS ...`` or ``soak: FAIL ...``, and the exit status says the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench import servers, wrk
from bench.dataset import Dataset, dsn, fresh_database
from bench.wrk import Request

RESULTS = Path(__file__).resolve().parent / "results"
MAX_RSS_GROWTH = 0.10
ROUND_SECONDS = 60
ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) ')


@dataclass
class Round:
    minute: int
    result: wrk.Result
    rss_kib: dict[int, int]


@dataclass
class Soak:
    minutes: float
    orders_at_start: int = 0
    warm_rss_kib: dict[int, int] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    created_by_path: Counter[str] = field(default_factory=Counter)
    orders_at_end: int = 0
    orders_without_sms: int = 0
    sms_queued_at_end: int = 0
    sms_by_status: dict[str, int] = field(default_factory=dict)
    gateway_sent: int = 0
    tracebacks: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def created(self) -> int:
        return self.statuses[201]

    def rss_growth(self) -> dict[int, float]:
        end = self.rounds[-1].rss_kib if self.rounds else {}
        return {pid: end[pid] / start - 1 for pid, start in self.warm_rss_kib.items()
                if pid in end}

    def verdicts(self) -> list[tuple[bool, str]]:
        growth = self.rss_growth()
        worst = max(growth.values(), default=float("inf"))
        total_start = sum(self.warm_rss_kib.values())
        total_end = sum(self.rounds[-1].rss_kib.values()) if self.rounds else 0
        same_workers = set(self.warm_rss_kib) == set(self.rounds[-1].rss_kib) \
            if self.rounds else False
        new_orders = self.orders_at_end - self.orders_at_start
        return [
            (self.orders_without_sms == 0,
             f"orders without their SMS in the outbox: {self.orders_without_sms}"),
            (new_orders == self.created,
             f"orders created {new_orders:,}, 201s logged {self.created:,}"),
            (self.server_errors == 0, f"5xx answers: {self.server_errors}"),
            (same_workers, "the same gunicorn workers from warm-up to end (none died)"),
            (worst < MAX_RSS_GROWTH and total_end < total_start * (1 + MAX_RSS_GROWTH),
             f"worker RSS growth: worst {worst:+.1%}, all workers "
             f"{total_start / 1024:.1f} → {total_end / 1024:.1f} MiB "
             f"({total_end / total_start - 1 if total_start else 0:+.1%}); limit "
             f"{MAX_RSS_GROWTH:.0%}"),
        ]

    def markdown(self, machine: list[str]) -> str:
        lines = [f"# Soak ({self.minutes:g} minutes)", "", *machine, "",
                 "## Load, minute by minute", "",
                 "| minute | requests | req/s | p50 ms | p99 ms | non-2xx | socket errors "
                 "| workers' RSS MiB |", "|---|---|---|---|---|---|---|---|"]
        for r in self.rounds:
            lines.append(
                f"| {r.minute} | {r.result.requests:,} | {r.result.rps:,.0f} | "
                f"{r.result.p50_ms:.1f} | {r.result.p99_ms:.1f} | {r.result.non_2xx} | "
                f"{r.result.socket_errors} | {sum(r.rss_kib.values()) / 1024:.1f} |")
        lines += ["", "## Memory of each gunicorn worker (VmRSS)", "",
                  "| pid | after warm-up MiB | at the end MiB | growth |", "|---|---|---|---|"]
        end = self.rounds[-1].rss_kib if self.rounds else {}
        for pid, start in sorted(self.warm_rss_kib.items()):
            finish = end.get(pid)
            lines.append(f"| {pid} | {start / 1024:.1f} | "
                         f"{'gone' if finish is None else f'{finish / 1024:.1f}'} | "
                         f"{'-' if finish is None else f'{finish / start - 1:+.1%}'} |")
        lines += ["", "## Answers (gunicorn access log)", "",
                  ", ".join(f"{status}: {n:,}" for status, n in sorted(self.statuses.items())),
                  "", "## SMS", "",
                  f"- sent by the fake gateway: {self.gateway_sent:,}; still queued at the "
                  f"end: {self.sms_queued_at_end:,}; outbox by status: {self.sms_by_status}",
                  f"- tracebacks in the service's log: {self.tracebacks}", "",
                  "## Checks", ""]
        lines += [f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in self.verdicts()]
        return "\n".join(lines)


def mixed_requests(dataset: Dataset) -> list[Request]:
    """About 30 % new orders, 30 % single orders, 20 % order lists, 10 % a customer's
    orders, 5 % users and 5 % customers, interleaved."""
    requests = []
    codes, ids = dataset.customer_codes, dataset.order_ids
    for i in range(200):
        code = codes[i % len(codes)]
        create = Request("POST", "/api/orders/create/", json.dumps(
            {"customer_code": code, "item": "Sack of maize", "amount": f"{400 + i}.50"}))
        requests += [
            create,
            Request("GET", f"/api/orders/{ids[(2 * i) % len(ids)]}/"),
            Request("GET", f"/api/orders/all-orders/?page={1 + i % 5}&per_page=10"),
            create,
            Request("GET", f"/api/orders/{ids[(2 * i + 1) % len(ids)]}/"),
            Request("GET", f"/api/orders/customer/all-orders/?customer_code={code}"),
            create,
            Request("GET", f"/api/orders/{ids[(3 * i) % len(ids)]}/"),
            Request("POST", "/api/orders/all-orders/", json.dumps({"status": "pending"})),
            Request("GET", "/api/lookup/all-users/?page=1&per_page=10") if i % 2 else
            Request("GET", "/api/lookup/all-customers/?page=1&per_page=10"),
        ]
    return requests


def worker_pids(master: int) -> list[int]:
    return sorted(pid for pid in _pids() if _status(pid).get("PPid") == str(master))


def rss_kib(pids: list[int]) -> dict[int, int]:
    found = {}
    for pid in pids:
        value = _status(pid).get("VmRSS", "")
        if value:
            found[pid] = int(value.split()[0])
    return found


def gunicorn_master() -> int:
    """The gunicorn master this process started (its child; workers are the master's)."""
    mine = str(os.getpid())
    for pid in _pids():
        status = _status(pid)
        if status.get("PPid") == mine and "gunicorn" in _cmdline(pid):
            return pid
    raise RuntimeError("no gunicorn master among this process's children")


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def count(dataset: Dataset, sql: str) -> int:
    with psycopg.connect(dsn(dataset.name)) as db:
        row = db.execute(sql).fetchone()
        return int(row[0]) if row else 0


ORDERS_WITHOUT_SMS = ("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM "
                      "sms_outbox s WHERE s.order_id = o.id AND s.kind = 'order_placed')")


def drain(dataset: Dataset, *, seconds: float) -> int:
    """Let the worker finish the queue, up to ``seconds``; what is still queued."""
    deadline = time.monotonic() + seconds
    while True:
        queued = count(dataset, "SELECT count(*) FROM sms_outbox WHERE status = 'queued'")
        if queued == 0 or time.monotonic() > deadline:
            return queued
        time.sleep(1)


def run(options: argparse.Namespace) -> Soak:
    soak = Soak(minutes=options.minutes)
    keys = servers.Secrets.generate()
    servers.LOGS.mkdir(exist_ok=True)
    access_log = servers.LOGS / "soak-access.log"
    access_log.unlink(missing_ok=True)
    lifetime = int(options.minutes * 60 + options.warmup + 3600)
    _log(f"loading {options.orders:,} orders into a fresh database")
    with fresh_database(options.orders) as dataset:
        env = servers.production_env(dataset.url, keys, servers.free_port(),
                                     GUNICORN_ACCESS_LOG=str(access_log),
                                     ACCESS_TOKEN_SECONDS=str(lifetime))
        with servers.gunicorn("soak-service", servers.SERVICE_APP, env) as base_url, \
                servers.fake_gateway(options.gateway_delay) as gateway, \
                servers.sms_worker(env, gateway) as worker_log:
            token = servers.login(base_url, dataset)
            requests = mixed_requests(dataset)
            soak.orders_at_start = count(dataset, "SELECT count(*) FROM orders")
            _log(f"warming up for {options.warmup:g} s")
            wrk.run(base_url, requests, seconds=options.warmup,
                    connections=options.connections, token=token)
            workers = worker_pids(gunicorn_master())
            soak.warm_rss_kib = rss_kib(workers)
            _log(f"{len(workers)} gunicorn workers, {sum(soak.warm_rss_kib.values()) / 1024:.1f}"
                 f" MiB after warm-up; soaking for {options.minutes:g} minutes")
            rounds = max(1, round(options.minutes * 60 / ROUND_SECONDS))
            for minute in range(1, rounds + 1):
                result = wrk.run(base_url, requests, seconds=options.minutes * 60 / rounds,
                                 connections=options.connections, token=token)
                soak.rounds.append(Round(minute, result, rss_kib(workers)))
                _log(f"minute {minute}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                     f"non-2xx {result.non_2xx}, RSS "
                     f"{sum(soak.rounds[-1].rss_kib.values()) / 1024:.1f} MiB")
            soak.sms_queued_at_end = drain(dataset, seconds=options.drain)
            soak.gateway_sent = servers.gateway_sent(gateway)
            service_log = servers.LOGS / "soak-service.log"
            soak.tracebacks = sum(log.read_text(errors="replace").count("Traceback")
                                  for log in (service_log, worker_log))
        soak.orders_at_end = count(dataset, "SELECT count(*) FROM orders")
        soak.orders_without_sms = count(dataset, ORDERS_WITHOUT_SMS)
        with psycopg.connect(dsn(dataset.name)) as db:
            soak.sms_by_status = dict(db.execute(
                "SELECT status, count(*) FROM sms_outbox GROUP BY status ORDER BY status"
            ).fetchall())
    for line in access_log.read_text(errors="replace").splitlines():
        matched = ACCESS_LINE.search(line)
        if matched:
            soak.statuses[int(matched.group(3))] += 1
    return soak


def machine(options: argparse.Namespace) -> list[str]:
    env = servers.production_env("postgresql+psycopg://", servers.Secrets.generate(), 0)
    gunicorn = servers.gunicorn_settings(env)
    return [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs; "
        f"PostgreSQL on 127.0.0.1; {options.orders:,} orders loaded before the start",
        f"- gunicorn (deploy/gunicorn.conf.py): {gunicorn['workers']} workers x "
        f"{gunicorn['threads']} threads, APP_ENV=production, access log to a file",
        f"- wrk: {options.connections} connections, {ROUND_SECONDS} s rounds after a "
        f"{options.warmup:g} s warm-up; the SMS worker sends to a fake gateway answering "
        f"in {options.gateway_delay * 1000:g} ms",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds of warm-up load")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--orders", type=int, default=10_000, help="orders loaded beforehand")
    parser.add_argument("--gateway-delay", type=float, default=0.05,
                        help="seconds the fake SMS gateway takes per message")
    parser.add_argument("--drain", type=float, default=120.0,
                        help="seconds to let the SMS worker empty its queue at the end")
    options = parser.parse_args()
    wrk.require_wrk()
    if not servers.has_sms_worker():
        raise SystemExit("the soak needs `flask --app app sms-worker`")
    soak = run(options)
    text = soak.markdown(machine(options))
    failed = [t for ok, t in soak.verdicts() if not ok]
    final = ("soak: PASS" if not failed else "soak: FAIL (" + "; ".join(failed) + ")") + (
        f" — {soak.created:,} orders, {sum(soak.statuses.values()):,} requests, "
        f"{soak.server_errors} 5xx, worst worker RSS growth "
        f"{max(soak.rss_growth().values(), default=0):+.1%}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{dt.date.today():%Y-%m-%d}-soak.md"
    path.write_text(text + "\n\n" + final + "\n")
    print(text)
    print(f"(written to {path})")
    print(final)
    return 1 if failed else 0


def _log(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark's one entry point.

    python -m bench.run --quick     # about two minutes: 10k and 100k orders, short runs
    python -m bench.run             # the full run: 10k and 1M orders (make bench)

For each size: a fresh PostgreSQL database on 127.0.0.1:5432, migrated and bulk-loaded;
the service and the baseline (bench/baseline_app.py), each under
``gunicorn --config deploy/gunicorn.conf.py`` with production settings; wrk (another
process) loads one of them at a time. Every scenario runs at the first size; the lists run
at the second size too, for cost growth. Then the SMS worker scenarios: create-order while
``flask --app app sms-worker`` sends through a fake gateway answering in 0 ms, then in 2 s.
The Markdown report goes to stdout and to bench/results/<date>-<mode>.md; the last line
is ``bench: worst ratio to baseline <r> (<scenario>)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psycopg

from bench import inprocess, servers, wrk
from bench.dataset import SERVER, Dataset, dsn, fresh_database
from bench.report import Measurement, Report
from bench.wrk import Request

RESULTS = Path(__file__).resolve().parent / "results"
DEEP_PAGE = 500  # offset 4,990: inside the list at every size, so sizes compare


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: Callable[[Dataset], list[Request]]
    listing: bool = False
    # Argon2 is CPU-bound: more logins in flight than cores only queue, and each takes long
    # enough that a short run would count none.
    connections: int | None = None
    min_seconds: float = 0


def _create(d: Dataset) -> list[Request]:
    return [Request("POST", "/api/orders/create/", json.dumps(
        {"customer_code": code, "item": "Sack of maize", "amount": f"{420 + i % 90}.50"}))
        for i, code in enumerate(d.customer_codes)]


SCENARIOS = [
    Scenario("get one order", lambda d: [Request("GET", f"/api/orders/{i}/")
                                         for i in d.order_ids]),
    Scenario("create an order", _create),
    Scenario("all orders, first page", lambda d: [
        Request("GET", "/api/orders/all-orders/?page=1&per_page=10")], listing=True),
    Scenario(f"all orders, page {DEEP_PAGE}", lambda d: [
        Request("GET", f"/api/orders/all-orders/?page={DEEP_PAGE}&per_page=10")], listing=True),
    Scenario("a customer's orders", lambda d: [
        Request("GET", f"/api/orders/customer/all-orders/?customer_code={c}&page=1&per_page=10")
        for c in d.customer_codes], listing=True),
    Scenario("users lookup", lambda d: [
        Request("GET", "/api/lookup/all-users/?page=1&per_page=10")], listing=True),
    Scenario("customers lookup", lambda d: [
        Request("GET", "/api/lookup/all-customers/?page=1&per_page=10")], listing=True),
    Scenario("login (Argon2id)", lambda d: [Request("POST", "/api/auth/login/", json.dumps(
        {"email": d.admin_email, "password": d.admin_password}))], connections=2,
        min_seconds=6),
]
WORKER_SCENARIOS = [(0.0, "create an order, SMS worker + gateway 0 ms"),
                    (2.0, "create an order, SMS worker + gateway 2 s")]


@dataclass(frozen=True)
class Mode:
    name: str
    sizes: tuple[int, int]
    seconds: float
    warmup: float
    connections: int
    profile: int
    rounds: int
    breakdown: int  # requests timed per scenario for the breakdown


MODES = {
    "quick": Mode("quick", (10_000, 100_000), seconds=2, warmup=1, connections=8, profile=0,
                  rounds=1, breakdown=100),
    "full": Mode("full", (10_000, 1_000_000), seconds=12, warmup=3, connections=8, profile=3,
                 rounds=2, breakdown=500),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the two-minute run")
    parser.add_argument("--label", default="", help="added to the results file name")
    parser.add_argument("--profile", type=int, default=None,
                        help="profile the N scenarios furthest from the baseline")
    parser.add_argument("--seconds", type=float, default=None, help="length of each wrk run")
    parser.add_argument("--only", default="", help="run scenarios whose name has this text")
    options = parser.parse_args()
    mode = MODES["quick" if options.quick else "full"]
    if options.seconds:
        mode = dataclasses.replace(mode, seconds=options.seconds)
    profile_count = mode.profile if options.profile is None else options.profile
    wrk.require_wrk()
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    keys = servers.Secrets.generate()
    report = Report(mode.name)
    scenarios = [s for s in SCENARIOS if options.only.lower() in s.name.lower()]
    name = f"{dt.date.today():%Y-%m-%d}-{mode.name}{'-' + options.label if options.label else ''}"
    with ExitStack() as databases:
        loaded: list[Dataset] = []
        for index, size in enumerate(mode.sizes):
            chosen = scenarios if index == 0 else [s for s in scenarios if s.listing]
            if not chosen:
                continue
            _log(f"loading {size:,} orders")
            dataset = databases.enter_context(fresh_database(size))
            loaded.append(dataset)
            _log(f"loaded {dataset.orders:,} orders, {dataset.customers:,} customers, "
                 f"{dataset.users:,} users in {dataset.load_seconds:.1f} s")
            if index == 0:
                _count_statements(report, dataset, keys, chosen)
                _break_down(report, dataset, keys, chosen, repeat=mode.breakdown)
            _serve_and_load(report, dataset, keys, mode, chosen, index == 0 and not options.only)
            if index == len(mode.sizes) - 1 and profile_count:
                _profile(report, dataset, profile_count, name)
        if len(loaded) == 2:
            _list_costs(report, loaded, keys, [s for s in scenarios if s.listing],
                        repeat=mode.breakdown)
    _describe(report, mode, keys, time.perf_counter() - started, load_at_start)
    text = report.markdown()
    ratio, where = report.worst()
    final = f"bench: worst ratio to baseline {ratio:.2f} ({where})"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text + "\n" + final + "\n")
    print(text)
    print(f"(written to {RESULTS / (name + '.md')})")
    print(final)
    return 0


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _count_statements(report: Report, dataset: Dataset, keys: servers.Secrets,
                      scenarios: list[Scenario]) -> None:
    _log("counting SQL statements per request (in-process)")
    service = inprocess.service_app(dataset.url)
    baseline = inprocess.baseline_app(dataset.url, keys)
    token = inprocess.login(service, dataset.admin_email, dataset.admin_password)
    for scenario in scenarios:
        request = scenario.requests(dataset)[0]
        counted = inprocess.count_per_request(service, request, token)
        base = inprocess.count_per_request(baseline, request, token)
        if not 200 <= counted.status < 300:
            report.notes.append(f"counting '{scenario.name}': the service answered "
                                f"{counted.status}")
        path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", request.path.split("?")[0])
        report.counts[f"{scenario.name}: {request.method} {path}"] = (counted, base)


def _break_down(report: Report, dataset: Dataset, keys: servers.Secrets,
                scenarios: list[Scenario], *, repeat: int) -> None:
    _log("timing the parts of a request (in-process)")
    token = inprocess.login(inprocess.service_app(dataset.url), dataset.admin_email,
                            dataset.admin_password)
    for scenario in scenarios:
        if "login" in scenario.name:
            continue  # Argon2 is the whole of it
        requests = scenario.requests(dataset)
        report.breakdowns[scenario.name] = (
            inprocess.breakdown(lambda: inprocess.service_app(dataset.url), requests, token,
                                repeat=repeat),
            inprocess.breakdown(lambda: inprocess.baseline_app(dataset.url, keys), requests,
                                token, repeat=repeat))


def _list_costs(report: Report, datasets: list[Dataset], keys: servers.Secrets,
                scenarios: list[Scenario], *, repeat: int, rounds: int = 3) -> None:
    """Each list's ms per request at both sizes, in-process, the sizes taking turns (small,
    large, large, small, ...) so that the machine's background load weighs on both alike;
    the least disturbed round counts."""
    _log("timing each list at both sizes, in turns (in-process)")
    apps = {d.orders: (inprocess.service_app(d.url), inprocess.baseline_app(d.url, keys))
            for d in datasets}
    tokens = {d.orders: inprocess.login(apps[d.orders][0], d.admin_email, d.admin_password)
              for d in datasets}
    for scenario in scenarios:
        best: dict[tuple[int, int], float] = {}
        for round_ in range(rounds):
            for dataset in datasets if round_ % 2 == 0 else datasets[::-1]:
                requests = scenario.requests(dataset)
                for which, app in enumerate(apps[dataset.orders]):
                    ms = inprocess.ms_per_request(app, requests, tokens[dataset.orders],
                                                  repeat=repeat)
                    key = (dataset.orders, which)
                    best[key] = min(best.get(key, ms), ms)
        small, large = (d.orders for d in datasets)
        report.list_costs[scenario.name] = (best[small, 0], best[large, 0],
                                            best[small, 1], best[large, 1])


def _serve_and_load(report: Report, dataset: Dataset, keys: servers.Secrets, mode: Mode,
                    scenarios: list[Scenario], with_worker: bool) -> None:
    service_env = servers.production_env(dataset.url, keys, servers.free_port())
    baseline_env = servers.production_env(dataset.url, keys, servers.free_port())
    _log("starting the service and the baseline under gunicorn")
    with servers.gunicorn("service", servers.SERVICE_APP, service_env) as service, \
            servers.gunicorn("baseline", servers.BASELINE_APP, baseline_env) as baseline:
        token = servers.login(service, dataset)
        warm = [r for s in scenarios if "login" not in s.name for r in s.requests(dataset)[:20]]
        for url in (service, baseline) if warm else ():
            wrk.run(url, warm, seconds=mode.warmup, connections=mode.connections, token=token)
        for scenario in scenarios:
            requests = scenario.requests(dataset)
            _log(f"{scenario.name} @ {dataset.orders:,}")
            ours, theirs = _rounds(service, baseline, requests, token, rounds=mode.rounds,
                                   seconds=max(mode.seconds, scenario.min_seconds),
                                   connections=scenario.connections or mode.connections)
            report.measurements.append(Measurement(scenario.name, dataset.orders, ours, theirs,
                                                   listing=scenario.listing))
        if with_worker:
            _worker_scenarios(report, dataset, mode, service, service_env, token)


def _rounds(service: str, baseline: str, requests: list[Request], token: str, *,
            rounds: int, seconds: float, connections: int) -> tuple[wrk.Result, wrk.Result]:
    """Service and baseline in alternating rounds (S B, B S, ...), so that a change in the
    machine's background load during the run weighs on both alike."""
    ours: list[wrk.Result] = []
    theirs: list[wrk.Result] = []
    for round_ in range(rounds):
        order = [(service, ours), (baseline, theirs)]
        for url, results in order if round_ % 2 == 0 else order[::-1]:
            results.append(wrk.run(url, requests, seconds=seconds / rounds,
                                   connections=connections, token=token))
    return wrk.combine(ours), wrk.combine(theirs)


def _worker_scenarios(report: Report, dataset: Dataset, mode: Mode, service: str,
                      service_env: dict[str, str], token: str) -> None:
    if not servers.has_sms_worker():
        report.pending += [name for _, name in WORKER_SCENARIOS]
        report.notes.append("the SMS worker scenarios are PENDING: app/entrypoints/cli.py has "
                            "no `sms-worker` command yet")
        return
    baseline = next((m.baseline for m in report.measurements
                     if m.scenario == "create an order"), None)
    requests = _create(dataset)
    results: dict[str, list[wrk.Result]] = {name: [] for _, name in WORKER_SCENARIOS}
    sent = dict.fromkeys(results, 0)
    queued = dict.fromkeys(results, 0)
    # Alternating rounds (0 ms, 2 s, then 2 s, 0 ms, ...), as for service and baseline.
    for round_ in range(mode.rounds):
        for delay, name in WORKER_SCENARIOS if round_ % 2 == 0 else WORKER_SCENARIOS[::-1]:
            _log(name)
            _settle_outbox(dataset)
            with servers.fake_gateway(delay) as gateway, \
                    servers.sms_worker(service_env, gateway):
                results[name].append(wrk.run(service, requests,
                                             seconds=mode.seconds / mode.rounds,
                                             connections=mode.connections, token=token))
                sent[name] += servers.gateway_sent(gateway)
            queued[name] += _queued(dataset)
    for _, name in WORKER_SCENARIOS:
        report.measurements.append(Measurement(
            name, dataset.orders, wrk.combine(results[name]), baseline,
            note=f"{sent[name]:,} SMS sent meanwhile, {queued[name]:,} left queued"))


def _settle_outbox(dataset: Dataset) -> None:
    """Mark as sent what earlier scenarios queued, so the worker starts with an empty queue."""
    with psycopg.connect(dsn(dataset.name)) as db:
        db.execute("UPDATE sms_outbox SET status = 'sent', sent_at = now(), "
                   "next_attempt_at = NULL WHERE status = 'queued'")


def _queued(dataset: Dataset) -> int:
    with psycopg.connect(dsn(dataset.name)) as db:
        row = db.execute("SELECT count(*) FROM sms_outbox WHERE status = 'queued'").fetchone()
        return int(row[0]) if row else 0


def _profile(report: Report, dataset: Dataset, count: int, prefix: str) -> None:
    at_size = [m for m in report.measurements if m.ratio is not None
               and m.orders == dataset.orders and "gateway" not in m.scenario]
    worst = sorted(at_size, key=lambda m: m.ratio or 0)[:count]
    if not worst:
        return
    service = inprocess.service_app(dataset.url)
    token = inprocess.login(service, dataset.admin_email, dataset.admin_password)
    by_name = {s.name: s for s in SCENARIOS}
    RESULTS.mkdir(exist_ok=True)
    for measurement in worst:
        scenario = by_name[measurement.scenario]
        _log(f"profiling {scenario.name} @ {dataset.orders:,}")
        repeat = 20 if "login" in scenario.name else 300
        text = inprocess.profile(service, scenario.requests(dataset), token, repeat=repeat)
        slug = "".join(c if c.isalnum() else "-" for c in scenario.name.lower()).strip("-")
        path = RESULTS / f"{prefix}-profile-{slug}.txt"
        path.write_text(f"# pyinstrument, {repeat} requests of '{scenario.name}' at "
                        f"{dataset.orders:,} orders, Flask test client\n\n{text}")
        report.notes.append(f"profile of '{scenario.name}' ({measurement.ratio:.2f} of "
                            f"baseline): bench/results/{path.name}")


def _describe(report: Report, mode: Mode, keys: servers.Secrets, seconds: float,
              load_at_start: float) -> None:
    env = servers.production_env("postgresql+psycopg://", keys, 0)
    gunicorn = servers.gunicorn_settings(env)
    with psycopg.connect(SERVER) as db:
        row = db.execute("SHOW server_version").fetchone()
        version = row[0] if row else "?"
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in
                         ("flask", "flask-smorest", "sqlalchemy", "psycopg", "gunicorn"))
    argon = _argon2_cost()
    report.machine = [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, run took {seconds / 60:.1f} min",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"PostgreSQL {version} on 127.0.0.1",
        f"- gunicorn (deploy/gunicorn.conf.py defaults): {gunicorn['workers']} workers x "
        f"{gunicorn['threads']} threads ({gunicorn['worker_class']}), access log off, "
        "LOG_LEVEL=WARNING, APP_ENV=production with secrets generated for the run; the "
        "baseline under the same command and settings",
        f"- load: wrk, 1 thread, {mode.connections} connections, {mode.seconds:g} s per "
        f"scenario and server in {mode.rounds} alternating round(s), after a {mode.warmup:g} s "
        "warm-up, from a separate process, 127.0.0.1 only; p50/p99 are means over rounds",
        f"- data: users, identities, customers (1 per 20 orders), orders over two years "
        f"(85 % confirmed), an outbox row per SMS; sizes {', '.join(map(str, mode.sizes))}",
        f"- LOGIN_RATE_LIMIT={servers.LOGIN_RATE_LIMIT} so that login measures logins, "
        "not 429s; everything else is the production default",
        f"- Argon2id at the production cost (t=3, 64 MiB): {argon * 1000:.0f} ms per "
        f"verification in one process, so at most {(os.cpu_count() or 1) / argon:.0f} logins/s on "
        f"{os.cpu_count()} cores for any framework",
        f"- packages: {versions}",
        f"- 1-minute load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} "
        "at the end: whatever else runs on this machine shares its CPUs, hence the rounds",
        "- ratio = service req/s / baseline req/s, same requests, same run. The baseline runs "
        "the service's SQL in the same shapes, so the ratio is the cost of the framework and "
        "the layers; query-shape changes show in req/s and in cost growth. The SMS worker "
        "scenarios are compared with the baseline's plain create-order (it has no worker)",
        "- cost x = req/s at the small size / req/s at the large size (1.00: the same cost)",
    ]


def _argon2_cost() -> float:
    from app.adapters.passwords import Argon2PasswordHasher
    from app.config import Settings

    settings = Settings()
    hasher = Argon2PasswordHasher(time_cost=settings.argon2_time_cost,
                                  memory_kib=settings.argon2_memory_kib)
    stored = hasher.hash("benchmark-password")
    return inprocess.timed(lambda: hasher.verify(stored, "benchmark-password"), repeat=5)


if __name__ == "__main__":
    sys.exit(main())

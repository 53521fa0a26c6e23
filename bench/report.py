"""The results as Markdown: per-scenario table, cost growth, SQL per request, where a
request's time goes, targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.inprocess import Breakdown, Count
from bench.wrk import Result

MIN_RATIO = 0.7
MAX_LATENCY_DRIFT = 0.10
MAX_GROWTH = 1.25
MAX_STATEMENTS = 3


@dataclass
class Measurement:
    scenario: str
    orders: int
    service: Result | None
    baseline: Result | None
    listing: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.service or not self.baseline or not self.baseline.rps:
            return None
        return self.service.rps / self.baseline.rps


@dataclass
class Report:
    mode: str
    measurements: list[Measurement] = field(default_factory=list)
    counts: dict[str, tuple[Count, Count | None]] = field(default_factory=dict)
    # Per scenario: the service's request, the baseline's (its total only counts).
    breakdowns: dict[str, tuple[Breakdown, Breakdown]] = field(default_factory=dict)
    # Per list, ms per request in-process: service small, large, baseline small, large.
    list_costs: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def worst(self) -> tuple[float, str]:
        rated = [(m.ratio, f"{m.scenario} @ {_size(m.orders)}") for m in self.measurements
                 if m.ratio is not None]
        return min(rated) if rated else (0.0, "nothing measured")

    def markdown(self) -> str:
        parts = [f"# Benchmark ({self.mode})", "", *self.machine, "",
                 "## Throughput and latency, service against baseline", "",
                 self._main_table(), ""]
        parts += ["## Cost growth of the lists", "", self._growth_table(), ""]
        parts += ["## SQL per request (one request after a warm-up, in-process)", "",
                  self._count_table(), ""]
        if self.breakdowns:
            parts += ["## Where a request's time goes (in-process, one at a time)", "",
                      "Wall-clock ms per request through Flask's test client, timed where "
                      "each part is entered; *rest* is Flask, werkzeug, the test client and "
                      "the service's own hooks (request id, log line, security headers). The "
                      "baseline's request is the same test client, Flask and its SQL.", "",
                      self._breakdown_table(), ""]
        parts += ["## Targets", "", self._targets(), ""]
        if self.notes:
            parts += ["## Notes", "", *[f"- {n}" for n in self.notes], ""]
        return "\n".join(parts)

    def _main_table(self) -> str:
        rows = ["| scenario | orders | req/s | p50 ms | p99 ms | non-2xx | baseline req/s "
                "| p50 ms | p99 ms | non-2xx | ratio |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for m in self.measurements:
            rows.append(f"| {m.scenario}{' (' + m.note + ')' if m.note else ''} "
                        f"| {_size(m.orders)} | {_cells(m.service)} | {_cells(m.baseline)} "
                        f"| {_num(m.ratio, 2)} |")
        for name in self.pending:
            rows.append(f"| {name} | | PENDING | | | | | | | | |")
        return "\n".join(rows)

    def growth(self) -> list[tuple[str, Measurement, Measurement]]:
        small = {m.scenario: m for m in self.measurements
                 if m.listing and m.orders == min(x.orders for x in self.measurements)}
        large = {m.scenario: m for m in self.measurements
                 if m.listing and m.orders == max(x.orders for x in self.measurements)}
        return [(name, small[name], large[name]) for name in small
                if name in large and small[name] is not large[name]]

    def request_growth(self, name: str) -> tuple[float, float] | None:
        """The service's and the baseline's in-process cost x of a list: ms per request at
        the large size / at the small size."""
        if name not in self.list_costs:
            return None
        ours_small, ours_large, theirs_small, theirs_large = self.list_costs[name]
        return ours_large / ours_small, theirs_large / theirs_small

    def _growth_table(self) -> str:
        rows = ["| list | service req/s small | large | cost x | baseline req/s small | large "
                "| cost x | in-process cost x, service | baseline |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, small, large in self.growth():
            timed = self.request_growth(name)
            rows.append(
                f"| {name} ({_size(small.orders)} -> {_size(large.orders)}) "
                f"| {_num(_rps(small.service), 0)} | {_num(_rps(large.service), 0)} "
                f"| {_num(_cost(small.service, large.service), 2)} "
                f"| {_num(_rps(small.baseline), 0)} | {_num(_rps(large.baseline), 0)} "
                f"| {_num(_cost(small.baseline, large.baseline), 2)} "
                f"| {_num(timed[0] if timed else None, 2)} "
                f"| {_num(timed[1] if timed else None, 2)} |")
        return "\n".join(rows)

    def _count_table(self) -> str:
        rows = ["| endpoint (scenario) | service statements | service pool checkouts "
                "| baseline statements | baseline checkouts |", "|---|---:|---:|---:|---:|"]
        for name, (service, baseline) in self.counts.items():
            rows.append(f"| {name} | {service.statements} | {service.checkouts} "
                        f"| {baseline.statements if baseline else '-'} "
                        f"| {baseline.checkouts if baseline else '-'} |")
        return "\n".join(rows)

    def _breakdown_table(self) -> str:
        names = list(next(iter(self.breakdowns.values()))[0].parts_ms)
        rows = [f"| scenario | service | baseline | {' | '.join(names)} | rest |",
                "|---|" + "---:|" * (len(names) + 3)]
        for scenario, (service, baseline) in self.breakdowns.items():
            rest = service.total_ms - sum(service.parts_ms.values())
            cells = " | ".join(f"{service.parts_ms[n]:.2f}" for n in names)
            rows.append(f"| {scenario} | {service.total_ms:.2f} | {baseline.total_ms:.2f} "
                        f"| {cells} | {rest:.2f} |")
        return "\n".join(rows)

    def _targets(self) -> str:
        lines = ["| target | holds | figures |", "|---|---|---|"]
        rated = [m for m in self.measurements if m.ratio is not None]
        below = [f"{m.scenario} @ {_size(m.orders)} {m.ratio:.2f}" for m in rated
                 if m.ratio is not None and m.ratio < MIN_RATIO]
        ratio, where = self.worst()
        lines.append(f"| every scenario >= {MIN_RATIO} of baseline req/s | {_yes(not below)} "
                     f"| worst {ratio:.2f} ({where}); below: {', '.join(below) or 'none'} |")
        workers = {m.scenario: m for m in self.measurements if "gateway" in m.scenario}
        fast = next((m for k, m in workers.items() if "0 ms" in k), None)
        slow = next((m for k, m in workers.items() if "2 s" in k), None)
        if fast and slow and fast.service and slow.service:
            p50 = slow.service.p50_ms / fast.service.p50_ms - 1
            p99 = slow.service.p99_ms / fast.service.p99_ms - 1
            holds = abs(p50) <= MAX_LATENCY_DRIFT and abs(p99) <= MAX_LATENCY_DRIFT
            lines.append(f"| create-order latency same with 0 ms and 2 s gateway (10 %) "
                         f"| {_yes(holds)} | p50 {fast.service.p50_ms:.1f} -> "
                         f"{slow.service.p50_ms:.1f} ms ({p50:+.0%}), p99 "
                         f"{fast.service.p99_ms:.1f} -> {slow.service.p99_ms:.1f} ms "
                         f"({p99:+.0%}) |")
        else:
            lines.append("| create-order latency same with 0 ms and 2 s gateway (10 %) "
                         "| PENDING | the SMS worker scenario did not run |")
        # A request's cost, one at a time, the sizes taking turns: wrk's req/s also moves
        # with whatever else the machine does between the two sizes' runs, minutes apart.
        growth = [(name, timed[0]) for name, _, _ in self.growth()
                  if (timed := self.request_growth(name))]
        over = [f"{n} x{c:.2f}" for n, c in growth if c > MAX_GROWTH]
        lines.append(f"| each list at the large size within {MAX_GROWTH} of the small "
                     f"(in-process ms per request) | {_yes(not over) if growth else 'n/a'} "
                     f"| {', '.join(f'{n} x{c:.2f}' for n, c in growth)} |")
        many = [f"{n} {s.statements}" for n, (s, _) in self.counts.items()
                if s.statements > MAX_STATEMENTS]
        lines.append(f"| <= {MAX_STATEMENTS} SQL statements per API request "
                     f"| {_yes(not many)} | over: {', '.join(many) or 'none'} |")
        return "\n".join(lines)


def _size(orders: int) -> str:
    return f"{orders // 1_000_000}M" if orders >= 1_000_000 else f"{orders // 1000}k"


def _cells(result: Result | None) -> str:
    if result is None:
        return "- | - | - | -"
    errors = f" (+{result.socket_errors} socket)" if result.socket_errors else ""
    return (f"{result.rps:.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} "
            f"| {result.non_2xx}{errors}")


def _rps(result: Result | None) -> float | None:
    return result.rps if result else None


def _cost(small: Result | None, large: Result | None) -> float | None:
    if not small or not large or not large.rps:
        return None
    return small.rps / large.rps


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _yes(holds: bool) -> str:
    return "yes" if holds else "**no**"

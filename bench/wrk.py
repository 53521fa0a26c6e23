"""Driving ``wrk`` from a separate process, against loopback only, bounded in time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT = Path(__file__).resolve().parent / "requests.lua"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str = ""

    def line(self) -> str:
        if "\t" in self.body or "\n" in self.body:
            raise ValueError("bodies are one line without tabs")
        return f"{self.method}\t{self.path}\t{self.body}"


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    return found


def run(base_url: str, requests: list[Request], *, seconds: float, connections: int,
        token: str | None = None, threads: int = 1) -> Result:
    """Load ``base_url`` for ``seconds`` with ``connections`` keep-alive connections."""
    host = urlsplit(base_url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"benchmarks only ever load this machine, not {host}")
    with tempfile.NamedTemporaryFile("w", suffix=".requests", delete=False) as listing:
        listing.write("\n".join(r.line() for r in requests) + "\n")
    env = {**os.environ, "BENCH_REQUESTS": listing.name, "BENCH_TOKEN": token or ""}
    command = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
               "--timeout", "10s", "-s", str(SCRIPT), base_url]
    try:
        finished = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=seconds + 30, check=False)
    finally:
        Path(listing.name).unlink(missing_ok=True)
    line = next((ln for ln in finished.stdout.splitlines() if ln.startswith("BENCH_JSON ")),
                None)
    if finished.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr}"
                           f"{finished.stdout}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non_2xx=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


def combine(results: list[Result]) -> Result:
    """Rounds of the same scenario as one: counts add up, percentiles are averaged."""
    n = len(results)
    return Result(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        p50_ms=sum(r.p50_ms for r in results) / n,
        p90_ms=sum(r.p90_ms for r in results) / n,
        p99_ms=sum(r.p99_ms for r in results) / n,
    )

"""What every benchmark shares: a throw-away PostgreSQL database, gunicorn servers (the project and
its floor, same settings), load through `wrk` or `bench/load.py`, and the A B A B comparison.

Both servers run at once from `gunicorn.conf.py` (its JSON access log included) with 2 sync workers
each; only one of them is loaded at a time, in alternating rounds, so both see the same machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu  # noqa: E402
from miniapp_api.core import config as configuration  # noqa: E402
from miniapp_api.devtools import demo  # noqa: E402
from tests.support.waiting import free_port, stop, wait_until_up  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WRK_SCRIPT = Path(__file__).with_name("wrk_requests.lua")
WORKERS = 2


def loopback_only(url: str) -> None:
    if urlsplit(url).hostname not in LOOPBACK:
        raise SystemExit(f"refusing a non-loopback address: {url}")


def _admin_engine(database_url: str) -> tuple[sa.Engine, str]:
    url = sa.make_url(configuration.database_uri(database_url))
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT"), str(url.database)


def _admin(database_url: str, *statements: str) -> None:
    engine, name = _admin_engine(database_url)
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement.format(name=name)))
    engine.dispose()


@contextlib.contextmanager
def fresh_database(database_url: str, keep: bool = False) -> Iterator[str]:
    """An empty PostgreSQL database (dropped and created), dropped again afterwards unless `keep`."""
    loopback_only(database_url)
    _admin(database_url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', 'CREATE DATABASE "{name}"')
    try:
        yield database_url
    finally:
        if not keep:
            _admin(database_url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_app(database_url: str, keys: dict, now: str):
    """The app in-process on `database_url`, its schema at head, its clock at `now` (quiet logs)."""
    import logging

    import flask_migrate

    from miniapp_api import create_app

    app = create_app({"APP_ENV": "testing", "DATABASE_URL": database_url, "APP_NOW": now, **keys})
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        flask_migrate.upgrade()
    return app


def migrate(env: dict) -> None:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)


@contextlib.contextmanager
def gunicorn(app: str, env: dict, workers: int = WORKERS, root: Path = ROOT) -> Iterator[str]:
    """`app` (e.g. `wsgi:app`) of the checkout at `root` under gunicorn with its settings; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {**env, "WEB_CONCURRENCY": str(workers), "BIND": f"127.0.0.1:{port}", "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "--preload", app]
    with served(command, environment, f"{base}/healthz", root) as process:
        cpu.SERVERS[base] = process.pid
        yield base


@contextlib.contextmanager
def served(command: list[str], env: dict, ready_url: str, root: Path = ROOT) -> Iterator[subprocess.Popen]:
    """A server `command` running once `ready_url` answers 200, stopped afterwards (killed if it does not
    stop); a server that does not come up is reported with the end of its output."""
    with tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until_up(ready_url, process, timeout=90)
            except AssertionError as error:
                raise RuntimeError(f"{' '.join(command)}: {error}\n{demo.tail(Path(log.name))}") from None
            yield process
        finally:
            stop(process, timeout=30)


def seeded_person(first_birthday: dt.date, n: int) -> tuple[dt.date, int]:
    """Birth date and ID-number sequence of the n-th resident of a seeded group: 500 a birth date, odd
    sequences, so that no two of a group share an ID number (groups start on birthdays years apart)."""
    return first_birthday + dt.timedelta(days=n // 500), n % 500 * 2 + 1


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """The project at `revision` in a temporary git worktree (removed afterwards): an earlier commit to
    serve beside this one in the same run, where the machine's speed drifts between runs."""
    with tempfile.TemporaryDirectory(prefix="bench-before-") as folder:
        path = Path(folder) / "checkout"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), revision], cwd=ROOT, check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


@contextlib.contextmanager
def gunicorn_at(revision: str, app: str, env: dict) -> Iterator[str]:
    """`app` of the project at an earlier `revision` under gunicorn (the `--before` side of a bench)."""
    with checkout(revision) as root, gunicorn(app, env, root=root) as base:
        yield base


@dataclass
class Result:
    """One load run: requests per second and latency percentiles (ms); statuses other than 2xx counted."""

    rps: float
    p50: float
    p99: float
    requests: int
    failures: int = 0
    notes: dict = field(default_factory=dict)


def request_line(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> str:
    """One request as `wrk_requests.lua` reads it: method, path, headers, body in hex, tab-separated."""
    joined = "\x1f".join(f"{name}: {value}" for name, value in (headers or {}).items())
    return "\t".join([method, path, joined, body.hex()])


def wrk(base: str, lines: list[str], connections: int, seconds: float) -> Result:
    """Closed-loop load with `wrk`: `connections` connections cycling through `lines` for `seconds`."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as file:
        file.write("\n".join(lines) + "\n")
    try:
        threads = min(connections, 2)
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(WRK_SCRIPT)]
        output = subprocess.run(
            [*command, base, "--", file.name], capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    finally:
        os.unlink(file.name)
    return _wrk_result(output)


def _wrk_result(output: str) -> Result:
    values = dict(re.findall(r"^BENCH (\w+) ([\d.]+)$", output, re.MULTILINE))
    return Result(
        rps=float(values["rps"]),
        p50=float(values["p50"]) / 1000,
        p99=float(values["p99"]) / 1000,
        requests=int(float(values["requests"])),
        failures=int(float(values["failures"])),
    )


def alternate(rounds: int, bases: dict[str, str], run: Callable[[str], Result]) -> dict[str, list[Result]]:
    """`run` against each server once per round, in the same order every round (A B A B ...)."""
    results: dict[str, list[Result]] = {name: [] for name in bases}
    for number in range(1, rounds + 1):
        for name, base in bases.items():
            before = cpu.snapshot(base)
            result = run(base)
            result.notes["cpu_ms"] = cpu.per_request(before, cpu.snapshot(base), result.requests)
            results[name].append(result)
            print(
                f"  round {number} {name:<8} {result.rps:8.0f}/s  p50 {result.p50:6.1f} ms  p99 {result.p99:6.1f} ms"
                f"  ({result.requests} requests, {result.failures} failed; load {load_average()})"
                f"  CPU a request: {_cpu_line(result.notes['cpu_ms'])}",
                flush=True,
            )
    return results


def _cpu_line(milliseconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f} ms" for name, value in milliseconds.items())


def summary(label: str, results: dict[str, list[Result]]) -> str:
    """A markdown row: each side's median rate and p99, and project ÷ floor; with a `before` side (an
    earlier commit served in the same run), a second row for it."""
    rate = {name: statistics.median(r.rps for r in runs) for name, runs in results.items()}
    p99 = {name: statistics.median(r.p99 for r in runs) for name, runs in results.items()}
    cpu_ms = {name: statistics.median(sum(r.notes["cpu_ms"].values()) for r in runs) for name, runs in results.items()}
    rows = []
    for side in ("project", "before")[: len(results) - 1]:
        failures = sum(r.failures for runs in (results[side], results["floor"]) for r in runs)
        rows.append(
            f"| {label}{' (before)' if side == 'before' else ''} | {rate[side]:.0f}/s | {p99[side]:.1f} ms | "
            f"{rate['floor']:.0f}/s | {p99['floor']:.1f} ms | **{rate[side] / rate['floor']:.2f}** | "
            f"{cpu_ms[side]:.2f} / {cpu_ms['floor']:.2f} ms | {failures} |"
        )
    return "\n".join(rows)


TABLE_HEADER = (
    "| endpoint | project | project p99 | floor | floor p99 | ratio | CPU a request, project / floor | failed |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|"
)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])

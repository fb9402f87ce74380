"""Benchmark: account lookup (GET /account and /ledger) on a ledger of 100,000 residents, against its floor.

    .venv/bin/python bench/accounts.py [--database sqlite|postgresql|both] [--residents 100000]
        [--years 6] [--samples 2000] [--postgres-url URL] [--keep]
        [--rounds 3] [--seconds 10] [--connections 16]

On PostgreSQL it then serves the app (`wsgi:app`) and its floor (`bench/floors/accounts.py`: one
keyed SELECT and a JSON of the same size) under gunicorn with 2 workers each, and loads them with
`wrk` at `--connections`, alternating project and floor for `--rounds` rounds of `--seconds` each,
every request with a random resident's own bearer token; it prints each round and the ratio.

Each resident gets one WeChat user bound to them and, for each of `--years` years up to 2027, a
paid normal order with its `personal` and `government_subsidy` ledger entries (100,000 × 6 years
= 600,000 orders and 1,200,000 entries), bulk-loaded (Core executemany on SQLite, COPY on
PostgreSQL). Then random residents' accounts are read through the real app (create_app, Flask's
test client, each request with that resident's own bearer token), so the figures cover auth,
queries, policy rules and JSON, not an HTTP server. The SQL statements of each request are timed
too, and EXPLAIN of each is printed, flagging full-table scans.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import harness  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402
from miniapp_api.identity import tokens  # noqa: E402
from miniapp_api.identity.residents import id_number_columns  # noqa: E402
from models import LedgerEntry, Order, Resident, WeChatUser, db, dispose_engines  # noqa: E402
from policy import id_number  # noqa: E402

NOW = "2027-03-02T10:00:00+08:00"  # inside the 2027 window; every seeded payment is before it
LAST_YEAR = 2027
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pension_bench16"
RESIDENTS_PER_BATCH = 5000
ROWS_PER_INSERT = 10000
WARMUP_REQUESTS = 50
UTC = dt.timezone.utc

TIERS = ((20000, 7000), (50000, 12000), (100000, 20000), (200000, 36000), (500000, 60000))
REGIONS = (
    ("140105", "太原市小店区"),
    ("140106", "太原市迎泽区"),
    ("140121", "太原市清徐县"),
    ("140213", "大同市平城区"),
    ("140403", "长治市潞州区"),
    ("140802", "运城市盐湖区"),
)
NAMES = ("王建国", "李秀英", "张伟", "刘桂兰", "陈志强", "杨丽", "赵国华", "郝玉梅", "任晓东", "郭淑珍")
PAID_YEARS = 6  # paid years per resident, unless `--years` says otherwise
BIRTH_DAYS = 9000  # born 1964-01-01 + up to 9000 days: everyone still has years to pay before the benefit age


# ---- seeding -------------------------------------------------------------------------------


def resident_row(i: int) -> dict:
    """The i-th resident (0-based, id i + 1) with a valid, unique ID number, encrypted as the app does."""
    birth = dt.date(1964, 1, 1) + dt.timedelta(days=i % BIRTH_DAYS)
    sequence = i // BIRTH_DAYS
    region, region_name = REGIONS[i % len(REGIONS)]
    number = id_number.make(region, birth, sequence)
    return {
        "id": i + 1,
        "public_id": "r_" + secrets.token_urlsafe(12),
        **id_number_columns(number),
        "name": NAMES[i % len(NAMES)],
        "gender": "M" if sequence % 2 else "F",
        "birth_date": birth,
        "region_code": region,
        "region_name": region_name,
        "categories": [],
        "supporter_capable": True,
        "receiving_basic_pension": False,
        "registry_synced_at": dt.datetime(2027, 1, 5, tzinfo=UTC),
    }


def user_row(i: int) -> dict:
    verified = dt.datetime(2021, 6, 1, tzinfo=UTC)
    return {
        "id": i + 1,
        "openid": f"oBench{i:012d}",
        "resident_id": i + 1,
        "created_at": verified,
        "verified_at": verified,
    }


def order_rows(i: int, years: int) -> tuple[list[dict], list[dict]]:
    """The i-th resident's paid normal orders, one a year, and their two ledger entries each."""
    tier, subsidy = TIERS[i % len(TIERS)]
    orders, entries = [], []
    for offset, year in enumerate(range(LAST_YEAR - years + 1, LAST_YEAR + 1)):
        order_id = i * years + offset + 1
        paid_at = dt.datetime(year, 3, 1, 2, tzinfo=UTC) + dt.timedelta(seconds=i % 80000)
        orders.append(
            {
                "id": order_id,
                "order_no": f"SX{paid_at:%Y%m%d}{order_id:016X}",
                "resident_id": i + 1,
                "year": year,
                "kind": "normal",
                "tier_fen": tier,
                "years": 1,
                "amount_fen": tier,
                "subsidy_fen": subsidy,
                "collective_subsidy_fen": 0,
                "payer": "self",
                "payer_user_id": i + 1,
                "status": "paid",
                "created_at": paid_at - dt.timedelta(minutes=1),
                "expires_at": paid_at + dt.timedelta(minutes=29),
                "paid_at": paid_at,
                "channel": "wechat",
                "transaction_id": f"4200{order_id:016d}",
            }
        )
        for n, (kind, amount, funder) in enumerate(
            (("personal", tier, "self"), ("government_subsidy", subsidy, "government"))
        ):
            entries.append(
                {
                    "id": 2 * order_id - 1 + n,
                    "resident_id": i + 1,
                    "year": year,
                    "kind": kind,
                    "amount_fen": amount,
                    "funder": funder,
                    "payer": "self",
                    "order_id": order_id,
                    "booked_at": paid_at,
                }
            )
    return orders, entries


def insert_rows(conn, table: sa.Table, rows: list[dict]) -> None:
    if conn.dialect.name == "postgresql":
        copy_rows(conn, table, rows)
        return
    for start in range(0, len(rows), ROWS_PER_INSERT):
        conn.execute(table.insert(), rows[start : start + ROWS_PER_INSERT])


def copy_rows(conn, table: sa.Table, rows: list[dict]) -> None:
    """COPY FROM STDIN on the connection's own transaction; JSON columns are written as JSON text."""
    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, sa.JSON)}
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in as_json else row[c] for c in columns])


def seed(app, residents: int, years: int) -> list[str]:
    """Load everything in batches of residents (one transaction each); the residents' public ids."""
    public_ids = []
    with app.app_context():
        for first in range(0, residents, RESIDENTS_PER_BATCH):
            batch = range(first, min(first + RESIDENTS_PER_BATCH, residents))
            people = [resident_row(i) for i in batch]
            orders, entries = zip(*(order_rows(i, years) for i in batch), strict=True)
            with db.engine.begin() as conn:
                for table, rows in (
                    (Resident.__table__, people),
                    (WeChatUser.__table__, [user_row(i) for i in batch]),
                    (Order.__table__, [o for chunk in orders for o in chunk]),
                    (LedgerEntry.__table__, [e for chunk in entries for e in chunk]),
                ):
                    insert_rows(conn, table, rows)
            public_ids.extend(person["public_id"] for person in people)
        after_load(db.engine)
    return public_ids


def after_load(engine) -> None:
    """PostgreSQL: move the id sequences past the explicit ids, and VACUUM ANALYZE as autovacuum
    would after such a load. SQLite is left as it is: it never gathers statistics by itself."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("residents", "wechat_users", "orders", "ledger_entries"):
            conn.execute(
                sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


# ---- measuring -----------------------------------------------------------------------------


@dataclass
class StatementClock:
    """Time and count of the SQL statements executed on an engine (reset per request)."""

    seconds: float = 0.0
    count: int = 0
    captured: list[tuple[str, object]] = field(default_factory=list)
    _started: float = 0.0

    def before(self, conn, cursor, statement, parameters, context, executemany):
        self.captured.append((statement, parameters))
        self._started = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        self.seconds += time.perf_counter() - self._started
        self.count += 1

    def reset(self) -> None:
        self.seconds, self.count, self.captured = 0.0, 0, []


@contextmanager
def statement_clock(app):
    """Time the statements of every engine (the lookups run on the read-only bind's, core.readonly)."""
    with app.app_context():
        engines = list(db.engines.values())
    clock = StatementClock()
    hooks = (("before_cursor_execute", clock.before), ("after_cursor_execute", clock.after))
    listeners = [(engine, name, hook) for engine in engines for name, hook in hooks]
    for listener in listeners:
        sa.event.listen(*listener)
    try:
        yield clock
    finally:
        for listener in listeners:
            sa.event.remove(*listener)


@dataclass
class Timings:
    total_ms: list[float] = field(default_factory=list)
    db_ms: list[float] = field(default_factory=list)
    statements: set[int] = field(default_factory=set)


def headers_for(app, users: list[int]) -> list[dict]:
    with app.app_context():
        return [{"Authorization": f"Bearer {tokens.issue(user)[0]}"} for user in users]


def measure(app, clock: StatementClock, path: str, sample: list[tuple[str, dict]]) -> Timings:
    client, timings = app.test_client(), Timings()
    for resident_id, headers in sample:
        clock.reset()
        started = time.perf_counter()
        response = client.get(f"/api/v1/residents/{resident_id}/{path}", headers=headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:500])
        timings.total_ms.append(1000 * elapsed)
        timings.db_ms.append(1000 * clock.seconds)
        timings.statements.add(clock.count)
    return timings


def pick(public_ids: list[str], count: int, rng: random.Random) -> list[tuple[int, str]]:
    indexes = (
        rng.sample(range(len(public_ids)), count)
        if count <= len(public_ids)
        else [rng.randrange(len(public_ids)) for _ in range(count)]
    )
    return [(i + 1, public_ids[i]) for i in indexes]  # user id i + 1 is bound to resident i + 1


def run_paths(app, public_ids: list[str], samples: int) -> dict[str, Timings]:
    rng = random.Random(20270302)
    chosen = pick(public_ids, samples + WARMUP_REQUESTS, rng)
    headers = headers_for(app, [user for user, _ in chosen])
    sample = [(resident_id, header) for (_, resident_id), header in zip(chosen, headers, strict=True)]
    warmup, timed = sample[:WARMUP_REQUESTS], sample[WARMUP_REQUESTS:]
    results = {}
    with statement_clock(app) as clock:
        for path in ("account", "ledger"):
            measure(app, clock, path, warmup)
            results[path] = measure(app, clock, path, timed)
    return results


# ---- EXPLAIN -------------------------------------------------------------------------------


def captured_statements(app, resident_id: str, user_id: int) -> list[tuple[str, object]]:
    """The statements (with their parameters) one /account and one /ledger request execute."""
    header = headers_for(app, [user_id])[0]
    client, captured = app.test_client(), []
    with statement_clock(app) as clock:
        for path in ("account", "ledger"):
            clock.reset()
            client.get(f"/api/v1/residents/{resident_id}/{path}", headers=header)
            captured.extend(clock.captured)
    return captured


def explain(app, statements: list[tuple[str, object]]) -> list[str]:
    """Print the plan of each statement; the statements whose plan scans a whole table."""
    full_scans = []
    with app.app_context(), db.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
        for statement, parameters in statements:
            # The plan text is the last column (PostgreSQL has one; SQLite's is `detail`).
            plan = [str(row[-1]) for row in conn.exec_driver_sql(prefix + statement, parameters)]
            print(f"\n-- {' '.join(statement.split())[:150]}...")
            print("\n".join(f"   {line}" for line in plan))
            if any(is_full_scan(line, postgres) for line in plan):
                full_scans.append(statement)
    return full_scans


def is_full_scan(line: str, postgres: bool) -> bool:
    if postgres:
        return "Seq Scan" in line
    words = line.split()
    return "SCAN" in words and "USING" not in words  # "SCAN t" alone reads the whole table


# ---- databases and report ------------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path, postgres_url: str, keep: bool):
    """A fresh database of the kind; dropped afterwards unless `keep`."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench_accounts.sqlite3'}"
        return
    with harness.fresh_database(postgres_url, keep) as url:
        yield url


def size_of(app) -> str:
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return conn.execute(sa.text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar()
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar() * conn.exec_driver_sql("PRAGMA page_size").scalar()
        return f"{pages / 2**20:.0f} MB"


def round_trip_ms(app, count: int = 500) -> float:
    """Median time of `SELECT 1`: the per-statement floor (driver, socket, server scheduling)."""
    times = []
    with app.app_context(), db.engine.connect() as conn:
        for _ in range(count):
            started = time.perf_counter()
            conn.exec_driver_sql("SELECT 1").scalar()
            times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def table_row(kind: str, path: str, timings: Timings) -> str:
    total, db_ms = timings.total_ms, timings.db_ms
    cells = [
        kind,
        f"GET /{path}",
        str(len(total)),
        *(
            f"{value:.2f}"
            for value in (
                statistics.median(total),
                percentile(total, 95),
                percentile(total, 99),
                max(total),
                statistics.median(db_ms),
                percentile(db_ms, 99),
            )
        ),
        "/".join(map(str, sorted(timings.statements))),
    ]
    return "| " + " | ".join(cells) + " |"


TABLE_HEAD = (
    "| database | endpoint | requests | median ms | p95 ms | p99 ms | max ms | SQL median ms | SQL p99 ms "
    "| statements per request |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def bench(kind: str, args, folder: Path, keys: dict) -> list[str]:
    with database(kind, folder, args.postgres_url, args.keep) as url:
        app = harness.migrated_app(url, keys, NOW)
        started = time.perf_counter()
        public_ids = seed(app, args.residents, args.years)
        seconds = time.perf_counter() - started
        print(
            f"\n## {kind}: seeded {args.residents} residents, {args.residents * args.years} orders, "
            f"{2 * args.residents * args.years} ledger entries in {seconds:.0f} s ({size_of(app)})"
        )
        full_scans = explain(app, captured_statements(app, public_ids[0], 1))
        for statement in full_scans:
            print(f"\n!! FULL TABLE SCAN on {kind}: {' '.join(statement.split())[:200]}")
        results = run_paths(app, public_ids, args.samples)
        print(
            f"\nSELECT 1 round trip: median {round_trip_ms(app):.3f} ms; load average after the timed "
            f"requests (1/5/15 min): {', '.join(f'{load:.1f}' for load in os.getloadavg())}"
        )
        rows = [table_row(kind, path, timings) for path, timings in results.items()]
        print("\n" + TABLE_HEAD + "\n" + "\n".join(rows))
        if kind == "postgresql" and args.rounds:
            served(app, args, url, keys, public_ids)
        with app.app_context():
            dispose_engines()
        if args.keep:
            print(f"kept: {url}")
        return rows


def served(app, args, url: str, keys: dict, public_ids: list[str]) -> None:
    """The app and its floor under gunicorn, loaded in turns with wrk; prints the ratio per endpoint."""
    sample = pick(public_ids, min(args.samples, len(public_ids)), random.Random(11))
    headers = headers_for(app, [user for user, _ in sample])
    env = {**os.environ, **keys, "DATABASE_URL": url, "APP_ENV": "development", "APP_NOW": NOW}
    env |= {"REDIS_URL": args.redis, "PUBLIC_BASE_URL": "http://127.0.0.1:8000"}
    lines = {
        path: [
            harness.request_line("GET", f"/api/v1/residents/{resident_id}/{path}", header)
            for (_, resident_id), header in zip(sample, headers, strict=True)
        ]
        for path in ("account", "ledger")
    }
    with contextlib.ExitStack() as stack:
        project = stack.enter_context(harness.gunicorn("wsgi:app", env))
        sizes = {path: body_size(project, lines[path][0]) for path in lines}
        floor_env = {**env, "FLOOR_ACCOUNT_BYTES": str(sizes["account"]), "FLOOR_LEDGER_BYTES": str(sizes["ledger"])}
        floor = stack.enter_context(harness.gunicorn("bench.floors.accounts:app", floor_env))
        bases = {"project": project, "floor": floor}
        if args.before:
            bases["before"] = stack.enter_context(harness.gunicorn_at(args.before, "wsgi:app", env))
        rows = []
        for path, requests in lines.items():
            print(f"\nGET /{path} ({sizes[path]} bytes), {args.connections} connections")
            results = harness.alternate(
                args.rounds,
                bases,
                lambda base, requests=requests: harness.wrk(base, requests, args.connections, args.seconds),
            )
            rows.append(harness.summary(f"GET /{path}", results))
    print("\n" + harness.TABLE_HEADER + "\n" + "\n".join(rows))


def body_size(base: str, line: str) -> int:
    """Bytes of the project's JSON answer to one request line (the floor answers as many)."""
    import requests

    _, path, header, _ = line.split("\t")
    name, value = header.split(": ", 1)
    response = requests.get(base + path, headers={name: value}, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return len(response.content)


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--residents", type=int, default=100000, help="residents to seed (default 100000)")
    parser.add_argument(
        "--years",
        type=int,
        default=PAID_YEARS,
        help=f"paid years per resident, up to {LAST_YEAR} (default {PAID_YEARS})",
    )
    parser.add_argument("--samples", type=int, default=2000, help="timed requests per endpoint (default 2000)")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="database to create, fill and drop (default %(default)s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (and the keys that decrypt them)")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds under gunicorn (0: none; default 3)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of load per side and round (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--before",
        metavar="REVISION",
        help="also serve this earlier commit (a git worktree, same database) in the same rounds, as a third side",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    folder = Path(tempfile.mkdtemp(prefix="bench_accounts_"))
    try:
        keys = {name: make(folder) for name, make in devkeys.GENERATORS.items()}
        rows = [row for kind in kinds for row in bench(kind, args, folder, keys)]
        print("\n# summary\n\n" + TABLE_HEAD + "\n" + "\n".join(rows))
    finally:
        if args.keep:
            print(f"kept: {folder} (SQLite file and keys)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: `interest credit --year 2026` and `benefits run --month 2027-03` on 1,000,000 residents
(PostgreSQL), each beside a floor: one bare set-based statement doing the same arithmetic.

    .venv/bin/python bench/batch_jobs.py [--residents 1000000] [--batch-size 5000]
        [--postgres-url URL] [--keep]

Steps: (re)create the database, migrate it, bulk-generate typical histories inside PostgreSQL
(multi-row INSERT … SELECT over generate_series): residents born 1940–1990 across six regions, 2 %
low income without a capable supporter, 1 % 低保; for everyone under 65 on 1 January of a year
2021–2026, a paid normal order that year four years in five (both ledger entries each), the 2025
interest, pensions started for everyone 65 before February 2027 (fixed on their balance then) with
February 2027 paid, 0.25 % dying in February 2027 (closed by the run), those turning 65 in February
2027 starting in the run. Then each job runs as the real command (`flask --app wsgi …`, a child
process: its wall time and peak RSS from wait4), with its floor before and after it (the faster one
is the ratio's denominator), and the job's totals are checked against the floor's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from miniapp_api import create_app  # noqa: E402
from miniapp_api.core import config as configuration  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402

NOW = "2027-03-02T10:00:00+08:00"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pension_h13b_bench"

SEED = [
    # Residents: id i, born 1940-01-01 + a spread over 50 years; facts as the registry feed brings them.
    """INSERT INTO residents (id, public_id, id_number_encrypted, id_number_index, name, gender, birth_date,
        region_code, region_name, categories, supporter_capable, receiving_basic_pension, deceased_on,
        registry_synced_at)
    SELECT i, 'r_bench' || i, 'bench', 'bench' || i, '王建国', CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END,
        DATE '1940-01-01' + ((i::bigint * 7919) % 18262)::int,
        (ARRAY['140105','140106','140121','140213','140403','140802'])[1 + i % 6], '太原市',
        CASE WHEN i % 50 = 0 THEN '["low_income"]'::json WHEN i % 97 = 0 THEN '["dibao"]'::json
             ELSE '[]'::json END,
        i % 50 <> 0,
        DATE '1940-01-01' + ((i::bigint * 7919) % 18262)::int < DATE '1967-01-01',
        CASE WHEN i % 400 = 0 THEN DATE '2027-02-10' END,
        TIMESTAMPTZ '2027-01-05 00:00+08'
    FROM generate_series(1, :n) AS i""",
    # A paid normal order for each payable year 2021–2026, four years in five.
    """INSERT INTO orders (order_no, resident_id, year, kind, tier_fen, years, amount_fen, subsidy_fen,
        collective_subsidy_fen, payer, status, created_at, expires_at, paid_at, channel, transaction_id)
    SELECT 'SXB' || r.id || '-' || y, r.id, y, 'normal', t.tier, 1, t.tier, t.subsidy, 0, 'self', 'paid',
        make_timestamptz(y, 3, 2, 10, 0, 0, 'Asia/Shanghai'), make_timestamptz(y, 3, 2, 10, 30, 0, 'Asia/Shanghai'),
        make_timestamptz(y, 3, 2, 10, 1, 0, 'Asia/Shanghai'), 'wechat', 'TB' || r.id || '-' || y
    FROM residents r CROSS JOIN generate_series(2021, 2026) AS y
    CROSS JOIN LATERAL (SELECT (ARRAY[20000,50000,100000,200000,500000])[1 + r.id % 5] AS tier,
                               (ARRAY[7000,12000,20000,36000,60000])[1 + r.id % 5] AS subsidy) AS t
    WHERE r.birth_date > make_date(y - 65, 1, 1) AND (r.id + y) % 5 <> 0""",
    """INSERT INTO ledger_entries (resident_id, year, kind, amount_fen, funder, payer, order_id, booked_at)
    SELECT resident_id, year, 'personal', amount_fen, 'self', 'self', id, paid_at FROM orders""",
    """INSERT INTO ledger_entries (resident_id, year, kind, amount_fen, funder, payer, order_id, booked_at)
    SELECT resident_id, year, 'government_subsidy', subsidy_fen, 'government', 'self', id, paid_at FROM orders""",
    # The 2025 interest (earlier years are marked credited without entries: only timing matters there).
    """INSERT INTO ledger_entries (resident_id, year, kind, amount_fen, funder, booked_at)
    SELECT resident_id, 2025, 'interest', (SUM(amount_fen)::bigint * 150 + 5000) / 10000, 'bookkeeping_interest',
        TIMESTAMPTZ '2025-12-31 23:59:59+08'
    FROM ledger_entries WHERE booked_at < TIMESTAMPTZ '2026-01-01 00:00+08' GROUP BY resident_id""",
    "INSERT INTO interest_years (year, credited_at) SELECT y, now() FROM generate_series(2021, 2025) AS y",
    # Pensions started for everyone 65 before February 2027, fixed on the balance at their first month.
    """UPDATE residents SET benefit_started_on = s.first, benefit_started_at = s.first::timestamp AT TIME ZONE
        'Asia/Shanghai'
    FROM (SELECT id, GREATEST(DATE '2021-01-01',
                 (date_trunc('month', birth_date + INTERVAL '65 years') + INTERVAL '1 month')::date) AS first
          FROM residents WHERE receiving_basic_pension) AS s
    WHERE residents.id = s.id AND s.first <= DATE '2027-02-01'""",
    """UPDATE residents r SET benefit_account_pension_fen = COALESCE((SELECT SUM(amount_fen) FROM ledger_entries l
        WHERE l.resident_id = r.id AND l.booked_at < r.benefit_started_at), 0) / 120
    WHERE benefit_started_on IS NOT NULL""",
    """INSERT INTO benefit_payments (resident_id, month, account_pension_fen, fund_pension_fen, exit_subsidy_fen,
        supplements_fen, monthly_fen, arrears, booked_at)
    SELECT id, DATE '2027-02-01', benefit_account_pension_fen, 0, 2000, 0, benefit_account_pension_fen + 2000,
        false, TIMESTAMPTZ '2027-02-01 08:00+08'
    FROM residents WHERE benefit_started_on IS NOT NULL""",
    """INSERT INTO ledger_entries (resident_id, year, kind, amount_fen, funder, booked_at)
    SELECT id, 2027, 'benefit_payout', -benefit_account_pension_fen, 'benefit', TIMESTAMPTZ '2027-02-01 08:00+08'
    FROM residents WHERE benefit_account_pension_fen > 0""",
    "SELECT setval(pg_get_serial_sequence('residents', 'id'), :n)",
]

INTEREST_FLOOR = """CREATE TEMP TABLE floor_interest ON COMMIT DROP AS
    SELECT l.resident_id, (SUM(l.amount_fen)::bigint * 150 + 5000) / 10000 AS fen
    FROM ledger_entries l LEFT JOIN orders o ON o.id = l.order_id
    WHERE COALESCE(o.paid_at, l.booked_at) < TIMESTAMPTZ '2027-01-01 00:00+08' AND NOT (l.kind = 'interest'
        AND l.year >= 2026)
    GROUP BY l.resident_id
    HAVING (SUM(l.amount_fen)::bigint * 150 + 5000) / 10000 > 0"""
# The month for everyone in payment: pension from the account up to its balance, the rest from the fund,
# 20 yuan (+10 from the month after the 80th birthday), the low-income supplement.
BENEFITS_FLOOR = """CREATE TEMP TABLE floor_benefits ON COMMIT DROP AS
    SELECT r.id, LEAST(r.benefit_account_pension_fen, GREATEST(COALESCE(b.balance, 0), 0)) AS account_fen,
        r.benefit_account_pension_fen AS pension_fen,
        2000 + CASE WHEN r.birth_date + INTERVAL '80 years' < DATE '2027-02-01' THEN 1000 ELSE 0 END AS exit_fen,
        CASE WHEN r.categories::jsonb ? 'low_income' AND NOT r.supporter_capable
             AND NOT r.categories::jsonb ?| ARRAY['dibao', 'tekun'] THEN 20000 ELSE 0 END AS supplements_fen
    FROM residents r
    LEFT JOIN (SELECT resident_id, SUM(amount_fen) AS balance FROM ledger_entries GROUP BY resident_id) b
        ON b.resident_id = r.id
    WHERE r.benefit_started_on IS NOT NULL AND r.deceased_on IS NULL"""


def main() -> int:
    args = arguments()
    with tempfile.TemporaryDirectory(prefix="bench-batch-jobs-") as folder:
        env = environment(args.postgres_url, Path(folder))
        with harness.fresh_database(args.postgres_url, args.keep):
            engine = seed(env, args.residents)
            report = [machine_load()]
            report.append(interest(engine, env, args.batch_size))
            report.append(benefits(engine, env, args.batch_size))
            print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def environment(database_url: str, folder: Path) -> dict:
    keys = {name: make(folder) for name, make in devkeys.GENERATORS.items()}
    return {**os.environ, **keys, "DATABASE_URL": database_url, "APP_ENV": "development", "APP_NOW": NOW}


def seed(env: dict, residents: int) -> sa.Engine:
    import flask_migrate

    from models import dispose_engines

    app = create_app({name: env[name] for name in configuration.ENV_KEYS if name in env})
    with app.app_context():
        flask_migrate.upgrade()
        dispose_engines()
    engine = sa.create_engine(configuration.database_uri(env["DATABASE_URL"]))
    started = time.perf_counter()
    with engine.begin() as connection:
        for statement in SEED:
            connection.execute(sa.text(statement), {"n": residents})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    print(f"seeded {residents:,} residents in {time.perf_counter() - started:.0f} s: {sizes(engine)}", flush=True)
    return engine


def sizes(engine: sa.Engine) -> dict:
    with engine.connect() as connection:
        count = {t: connection.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in ("orders", "ledger_entries")}
        started = "SELECT count(*) FROM residents WHERE benefit_started_on IS NOT NULL"
        count["started"] = connection.scalar(sa.text(started))
    return count


def machine_load() -> dict:
    return {"load_average_1_5_15": os.getloadavg(), "cpus": os.cpu_count()}


def command(env: dict, *args: str) -> tuple[float, float, dict]:
    """The real command in a child process: wall seconds, peak RSS (MiB) and its JSON summary line."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    output = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{args} failed ({child.returncode}): {output}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(output.strip().splitlines()[-1])


def floor(engine: sa.Engine, statement: str, totals: str) -> tuple[float, tuple]:
    with engine.begin() as connection:
        started = time.perf_counter()
        connection.execute(sa.text(statement))
        elapsed = time.perf_counter() - started
        table = statement.split()[3]
        return elapsed, tuple(connection.execute(sa.text(f"SELECT {totals} FROM {table}")).one())


def interest(engine: sa.Engine, env: dict, batch_size: int) -> dict:
    before, expected = floor(engine, INTEREST_FLOOR, "count(*), sum(fen)")
    elapsed, peak, summary = command(env, "interest", "credit", "--year", "2026", "--batch-size", str(batch_size))
    after, _ = floor(engine, INTEREST_FLOOR, "count(*), sum(fen)")
    got = (summary["accounts_credited"], summary["interest_fen"])
    return result("interest credit --year 2026", elapsed, peak, min(before, after), summary, got == expected)


def benefits(engine: sa.Engine, env: dict, batch_size: int) -> dict:
    totals = "count(*), sum(pension_fen + exit_fen + supplements_fen)"
    before, expected = floor(engine, BENEFITS_FLOOR, totals)
    elapsed, peak, summary = command(env, "benefits", "run", "--month", "2027-03", "--batch-size", str(batch_size))
    after, _ = floor(engine, BENEFITS_FLOOR, totals)
    # The run also starts (and pays) those turning 65 in February: one month each beside the floor's.
    matches = summary["months_paid"] - summary["started"] == expected[0] and summary["arrears_months"] == 0
    return result("benefits run --month 2027-03", elapsed, peak, min(before, after), summary, matches)


def result(job: str, elapsed: float, peak: float, floor_s: float, summary: dict, matches: bool) -> dict:
    row = {
        "job": job,
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(peak),
        "floor_seconds": round(floor_s, 1),
        "ratio": round(elapsed / floor_s, 1),
        "matches_floor": matches,
        "summary": summary,
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


if __name__ == "__main__":
    raise SystemExit(main())

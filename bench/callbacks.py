"""Payment callbacks per second: gunicorn with 4 workers on PostgreSQL, nonces in Redis, duplicates mixed in.

Run from the repository root, with PostgreSQL and Redis listening on loopback:

    .venv/bin/python bench/callbacks.py --orders 2000 --duplicates 0.2 --threads 16

Steps: (re)create the database `pension_bench`, migrate it with `flask --app wsgi db upgrade`, seed N
pending orders directly, start gunicorn on a free loopback port, fire one signed SUCCESS callback per
order plus duplicates (the same event again with a fresh nonce, or the same transaction as a new event)
from a thread pool, then check that the ledger holds exactly the distinct payments. Drops the database
afterwards (unless --keep). Everything stays on 127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integrations import tax_signature  # noqa: E402
from miniapp_api import create_app  # noqa: E402
from miniapp_api.core import config as configuration  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402
from miniapp_api.payments.notify import NOTIFY_PATH  # noqa: E402
from tests.support.waiting import free_port, wait_until_up  # noqa: E402

NOW = "2027-03-02T10:00:00+08:00"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIER, SUBSIDY, COLLECTIVE = 100000, 20000, 15000


def main() -> int:
    args = arguments()
    for url in (args.database, args.redis):
        loopback_only(url)
    with tempfile.TemporaryDirectory(prefix="bench-callbacks-") as folder:
        env, key = environment(args, Path(folder))
        recreate_database(args.database)
        try:
            return run(args, env, key)
        finally:
            if not args.keep:
                drop_database(args.database)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="distinct payments (one pending order each)")
    parser.add_argument("--duplicates", type=float, default=0.2, help="extra deliveries, as a share of --orders")
    parser.add_argument("--threads", type=int, default=16, help="concurrent senders")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1/pension_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the duplicate mix")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if not (0 < args.orders <= 100_000 and 0 <= args.duplicates <= 5 and 0 < args.threads <= 256):
        parser.error("--orders 1..100000, --duplicates 0..5, --threads 1..256")
    return args


def loopback_only(url: str) -> None:
    if urlsplit(url).hostname not in LOOPBACK:
        raise SystemExit(f"refusing a non-loopback address: {url}")


def environment(args: argparse.Namespace, folder: Path) -> tuple[dict, object]:
    """The app's environment: fresh keys in `folder`, frozen clock, Redis nonces; and the signing key."""
    keys = {name: make(folder) for name, make in devkeys.GENERATORS.items()}
    env = {
        **os.environ,
        **keys,
        "DATABASE_URL": args.database,
        "APP_ENV": "development",
        "APP_NOW": NOW,
        "REDIS_URL": args.redis,
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "TAX_API_BASE": "http://127.0.0.1:9/tax",
    }
    return env, tax_signature.load_private_key(devkeys.sandbox_tax_private_key(folder))


def admin_engine(database_url: str) -> tuple[sa.Engine, str]:
    url = sa.make_url(configuration.database_uri(database_url))
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT"), url.database


def recreate_database(database_url: str) -> None:
    engine, name = admin_engine(database_url)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(database_url: str) -> None:
    engine, name = admin_engine(database_url)
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def run(args: argparse.Namespace, env: dict, key) -> int:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    app = create_app({name: env[name] for name in configuration.ENV_KEYS if name in env})
    orders = seed(app, args.orders)
    deliveries = mixed_deliveries(orders, key, args.duplicates, random.Random(args.seed))
    with gunicorn(env, args.workers) as base:
        elapsed, answers = fire(base + NOTIFY_PATH, deliveries, args.threads)
    checks = verify(app, orders, len(deliveries))
    report(args, len(deliveries), elapsed, answers, checks)
    return 0 if checks["ok"] and set(answers["statuses"]) == {200} else 1


def seed(app, count: int) -> list[dict]:
    """`count` residents with one pending 2027 order each; every third gets a collective subsidy."""
    from miniapp_api.identity.residents import id_number_columns
    from models import Order, Resident, db
    from policy import id_number

    now = dt.datetime.fromisoformat(NOW)
    orders = []
    with app.app_context():
        for n in range(count):
            born = dt.date(1962, 1, 1) + dt.timedelta(days=n // 500)
            number = id_number.make("140105", born, n % 500 * 2 + 1)
            resident = Resident(
                **id_number_columns(number),
                name="王建国",
                gender="M",
                birth_date=born,
                region_code="140105",
                region_name="太原市小店区",
                categories=[],
                registry_synced_at=now,
            )
            order = Order(
                order_no=f"BENCH{n:06d}",
                resident=resident,
                year=2027,
                kind="normal",
                tier_fen=TIER,
                amount_fen=TIER,
                subsidy_fen=SUBSIDY,
                collective_subsidy_fen=COLLECTIVE if n % 3 == 0 else 0,
                payer="self" if n % 2 else "supporter",
                status="pending",
                created_at=now - dt.timedelta(minutes=1),
                expires_at=now + dt.timedelta(minutes=29),
            )
            db.session.add(order)
            orders.append({"order_no": order.order_no, "credit_fen": TIER + SUBSIDY + order.collective_subsidy_fen})
        db.session.commit()
    return orders


def callback_body(order_no: str, transaction_id: str) -> bytes:
    body = {
        "event_id": f"evt_{secrets.token_hex(12)}",
        "out_order_no": order_no,
        "transaction_id": transaction_id,
        "status": "SUCCESS",
        "amount_fen": TIER,
        "paid_at": "2027-03-02T09:59:30+08:00",
        "channel": "wechat",
    }
    return json.dumps(body, separators=(",", ":")).encode()


def mixed_deliveries(orders: list[dict], key, share: float, rng: random.Random) -> list[tuple[bytes, dict]]:
    """One callback per order, then duplicates of random ones (half repeat the event, half a new event
    of the same transaction), shuffled; each signed with its own nonce, before the clock starts."""
    firsts = [(order["order_no"], f"4200{secrets.token_hex(10)}") for order in orders]
    payloads = [callback_body(order_no, txn) for order_no, txn in firsts]
    for n in range(int(len(orders) * share)):
        index = rng.randrange(len(orders))
        payloads.append(payloads[index] if n % 2 else callback_body(*firsts[index]))
    rng.shuffle(payloads)
    timestamp = int(dt.datetime.fromisoformat(NOW).timestamp())
    signer = devkeys.SANDBOX_TAX_SERIAL
    return [
        (p, {**tax_signature.signed_headers(key, signer, timestamp, p), "Content-Type": "application/json"})
        for p in payloads
    ]


@contextlib.contextmanager
def gunicorn(env: dict, workers: int):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(30)


def fire(url: str, deliveries: list[tuple[bytes, dict]], threads: int) -> tuple[float, dict]:
    """Send every delivery once from `threads` senders (a requests.Session each); wall time and answers."""
    local, lock = threading.local(), threading.Lock()
    statuses, latencies = Counter(), []

    def send(delivery: tuple[bytes, dict]) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.perf_counter()
        response = local.session.post(url, data=delivery[0], headers=delivery[1], timeout=30)
        took = time.perf_counter() - started
        with lock:
            statuses[response.status_code] += 1
            latencies.append(took)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, deliveries))
    return time.perf_counter() - started, {"statuses": statuses, "latencies": sorted(latencies)}


def verify(app, orders: list[dict], delivered: int) -> dict:
    """The ledger must equal the distinct payments: every order paid once, no entry twice."""
    from models import CallbackDelivery, LedgerEntry, Order, db

    with app.app_context():
        scalar = db.session.scalar
        found = {
            "paid_orders": scalar(db.select(db.func.count()).select_from(Order).where(Order.status == "paid")),
            "ledger_fen": scalar(db.select(db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0))),
            "ledger_entries": scalar(db.select(db.func.count()).select_from(LedgerEntry)),
            "inbox_rows": scalar(db.select(db.func.count()).select_from(CallbackDelivery)),
            "outcomes": dict(
                db.session.execute(
                    db.select(CallbackDelivery.outcome, db.func.count()).group_by(CallbackDelivery.outcome)
                ).all()
            ),
        }
    expected = {
        "paid_orders": len(orders),
        "ledger_fen": sum(o["credit_fen"] for o in orders),
        "ledger_entries": sum(2 + (o["credit_fen"] > TIER + SUBSIDY) for o in orders),
        "inbox_rows": delivered,
    }
    found["ok"] = all(found[name] == value for name, value in expected.items())
    found["expected"] = expected
    return found


def report(args, delivered: int, elapsed: float, answers: dict, checks: dict) -> None:
    latencies = answers["latencies"]
    percentile = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000  # noqa: E731
    print(f"gunicorn workers      {args.workers} (sync), PostgreSQL, nonces in Redis")
    print(
        f"deliveries            {delivered} ({args.orders} payments + {delivered - args.orders} duplicates), "
        f"{args.threads} sender threads"
    )
    print(f"wall time             {elapsed:.2f} s")
    print(f"callbacks per second  {delivered / elapsed:.0f}")
    print(
        f"latency ms            p50 {percentile(0.5):.1f}  p95 {percentile(0.95):.1f}  "
        f"p99 {percentile(0.99):.1f}  mean {statistics.fmean(latencies) * 1000:.1f}"
    )
    print(f"answers               {dict(answers['statuses'])}")
    print(f"inbox outcomes        {checks['outcomes']}")
    print(
        f"ledger                {checks['ledger_entries']} entries, {checks['ledger_fen']} fen "
        f"(expected {checks['expected']['ledger_entries']}, {checks['expected']['ledger_fen']} fen)"
    )
    print(f"exactly once          {'OK' if checks['ok'] else 'MISMATCH'}")


if __name__ == "__main__":
    sys.exit(main())

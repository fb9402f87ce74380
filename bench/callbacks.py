"""Verified payment callbacks per second against their floor, 20 % duplicates mixed in, exactly once after.

Run from the repository root, with PostgreSQL and Redis listening on loopback:

    .venv/bin/python bench/callbacks.py --orders 3000 --duplicates 0.2 --connections 16 --rounds 3

Steps: (re)create the database `pension_bench16_callbacks`, migrate it, seed N pending orders, start
the app (`wsgi:app`) and its floor (`bench/floors/callbacks.py`: RSA verify + one INSERT/COMMIT)
under gunicorn with 2 workers each, then alternate project and floor for `--rounds` rounds: each
round sends its own share of the orders' signed SUCCESS callbacks plus duplicates (the same event
again with a fresh nonce, or the same transaction as a new event), each delivery exactly once,
`--connections` at a time (bench/load.py). Afterwards the ledger must hold exactly the distinct
payments. Drops the database afterwards (unless --keep). Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness, load  # noqa: E402
from bench.floors.callbacks import CREATE as CREATE_FLOOR_TABLE  # noqa: E402
from integrations import tax_signature  # noqa: E402
from miniapp_api import create_app  # noqa: E402
from miniapp_api.core import config as configuration  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402
from miniapp_api.payments.notify import NOTIFY_PATH  # noqa: E402

NOW = "2027-03-02T10:00:00+08:00"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIER, SUBSIDY, COLLECTIVE = 100000, 20000, 15000


def main() -> int:
    args = arguments()
    harness.loopback_only(args.redis)
    with tempfile.TemporaryDirectory(prefix="bench-callbacks-") as folder:
        env, key = environment(args, Path(folder))
        with harness.fresh_database(args.database, keep=args.keep):
            return run(args, env, key)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000, help="distinct payments (one pending order each)")
    parser.add_argument("--duplicates", type=float, default=0.2, help="extra deliveries, as a share of --orders")
    parser.add_argument("--connections", type=int, default=16, help="concurrent senders")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds; the orders are shared out among them")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1/pension_bench16_callbacks")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the duplicate mix")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    if not (0 < args.orders <= 100_000 and 0 <= args.duplicates <= 5 and 0 < args.connections <= 256):
        parser.error("--orders 1..100000, --duplicates 0..5, --connections 1..256")
    return args


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


def run(args: argparse.Namespace, env: dict, key) -> int:
    harness.migrate(env)
    app = create_app({name: env[name] for name in configuration.ENV_KEYS if name in env})
    orders = seed(app, args.orders)
    with app.app_context():
        from models import db

        with db.engine.begin() as connection:
            connection.execute(sa.text(CREATE_FLOOR_TABLE))
    rng, share = random.Random(args.seed), len(orders) // args.rounds
    batches = [
        [
            load.http("POST", NOTIFY_PATH, headers, body)
            for body, headers in mixed_deliveries(chunk, key, args.duplicates, rng)
        ]
        for chunk in (orders[i * share : (i + 1) * share] for i in range(args.rounds))
    ]
    with harness.gunicorn("wsgi:app", env) as project, harness.gunicorn("bench.floors.callbacks:app", env) as floor:
        pending = {project: iter(batches), floor: iter(batches)}
        print(f"{sum(map(len, batches))} deliveries a side in {args.rounds} rounds, {args.connections} connections")
        results = harness.alternate(
            args.rounds,
            {"project": project, "floor": floor},
            lambda base: load.once(base, next(pending[base]), args.connections),
        )
    checks = verify(app, orders[: share * args.rounds], sum(map(len, batches)))
    report(results, checks)
    return 0 if checks["ok"] and all(r.failures == 0 for runs in results.values() for r in runs) else 1


def seed(app, count: int, now_text: str = NOW) -> list[dict]:
    """`count` residents with one pending 2027 order each; every third gets a collective subsidy."""
    from miniapp_api.identity.residents import id_number_columns
    from models import Order, Resident, db
    from policy import id_number

    now = dt.datetime.fromisoformat(now_text)
    orders = []
    with app.app_context():
        for n in range(count):
            born, sequence = harness.seeded_person(dt.date(1962, 1, 1), n)
            number = id_number.make("140105", born, sequence)
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


def mixed_deliveries(
    orders: list[dict], key, share: float, rng: random.Random, now_text: str = NOW
) -> list[tuple[bytes, dict]]:
    """One callback per order, then duplicates of random ones (half repeat the event, half a new event
    of the same transaction), shuffled; each signed with its own nonce, before the clock starts."""
    firsts = [(order["order_no"], f"4200{secrets.token_hex(10)}") for order in orders]
    payloads = [callback_body(order_no, txn) for order_no, txn in firsts]
    for n in range(int(len(orders) * share)):
        index = rng.randrange(len(orders))
        payloads.append(payloads[index] if n % 2 else callback_body(*firsts[index]))
    rng.shuffle(payloads)
    timestamp = int(dt.datetime.fromisoformat(now_text).timestamp())
    signer = devkeys.SANDBOX_TAX_SERIAL
    return [
        (p, {**tax_signature.signed_headers(key, signer, timestamp, p), "Content-Type": "application/json"})
        for p in payloads
    ]


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


def report(results: dict, checks: dict) -> None:
    print("\n" + harness.TABLE_HEADER + "\n" + harness.summary("POST callback (20 % duplicates)", results))
    statuses = [r.notes["statuses"] for r in results["project"]]
    print(f"\nproject answers       {statuses}")
    print(f"inbox outcomes        {checks['outcomes']}")
    print(
        f"ledger                {checks['ledger_entries']} entries, {checks['ledger_fen']} fen "
        f"(expected {checks['expected']['ledger_entries']}, {checks['expected']['ledger_fen']} fen)"
    )
    print(f"exactly once          {'OK' if checks['ok'] else 'MISMATCH'}")


if __name__ == "__main__":
    sys.exit(main())

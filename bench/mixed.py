"""Sustained mixed load: lookups, orders, callbacks and verifications at 80 % of capacity for 2 minutes.

    .venv/bin/python bench/mixed.py [--minutes 2] [--share 0.8] [--residents 1000]

Creates the PostgreSQL database `pension_bench16_mixed`, seeds residents with a paid 2027 order, a
bound WeChat user and an issued certificate each, pending orders for the callbacks, and residents
who have not paid 2027 yet, known to the agency registry, to place orders (one each); serves the app
under gunicorn (2 workers), its agency registry and tax bureau being the sandbox's (`flask sandbox`,
its own process on the same box, over HTTP). Then, with the same mix of requests throughout
(bench/load.py):

1. idle: one request at a time, for the idle p99;
2. capacity: 16 connections flat out (closed loop), for the requests per second the box gives;
3. sustained: `--share` of that rate, started on schedule (open loop), for `--minutes`.

It passes when nothing fails (every answer 2xx, every callback credited exactly once, every order
placed registered with the tax bureau) and the sustained p99 stays within 2x the idle p99; it prints
both, per kind of request too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import random
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import callbacks as callback_bench  # noqa: E402
from bench import harness, load  # noqa: E402
from bench.certificates import NOW, environment, seed  # noqa: E402
from integrations import tax_signature  # noqa: E402
from miniapp_api import create_app  # noqa: E402
from miniapp_api.core import config as configuration  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402
from miniapp_api.devtools import demo  # noqa: E402
from miniapp_api.payments.notify import NOTIFY_PATH  # noqa: E402
from models import CallbackDelivery, Certificate, LedgerEntry, Order, Resident, db, dispose_engines  # noqa: E402
from tests.support import factories  # noqa: E402  (rows made the way the app makes them)
from tests.support.registry import add_change, new_record  # noqa: E402
from tests.support.waiting import free_port  # noqa: E402

# Out of 20 requests: what a day of the mini-program looks like, roughly.
MIX = ("account",) * 7 + ("ledger",) * 4 + ("place",) + ("order",) * 2 + ("verify",) * 3 + ("callback",) * 3
PLACE_BODY = json.dumps({"year": 2027, "tier_fen": 100000, "kind": "normal"}).encode()
IDLE_SECONDS = 15
CAPACITY_SECONDS = 15
MAX_RATE = 1000  # requests/s the callback and placing pools are sized for (each used once)
DUPLICATES = 0.2
T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--share", type=float, default=0.8, help="share of the measured capacity to sustain")
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16, help="for the capacity run")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1/pension_bench16_mixed")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-mixed-") as folder:
        env = environment(args, Path(folder))
        private_key = devkeys.sandbox_tax_private_key(Path(folder))
        key = tax_signature.load_private_key(private_key)
        with harness.fresh_database(args.database, keep=args.keep):
            harness.migrate(env)
            with sandbox(env, private_key) as counterparts:
                return run(args, {**env, **counterparts}, key)


@contextlib.contextmanager
def sandbox(env: dict, private_key: Path) -> Iterator[dict[str, str]]:
    """The sandbox's agency registry and tax bureau (`flask sandbox`, its own process) on a free port;
    yields the API's settings pointing at them."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The key whose public half the API trusts; without it the sandbox would make a pair of its own in
    # the checkout's instance/ folder.
    own = {**env, "SANDBOX_TAX_PRIVATE_KEY": str(private_key)}
    with harness.served(demo.sandbox_command("127.0.0.1", port, speedup=1), own, f"{base}/agency/v1/changes?limit=1"):
        yield {"AGENCY_API_BASE": f"{base}/agency", "TAX_API_BASE": f"{base}/tax"}


class Mix:
    """Builds requests in the MIX order: each kind from its own prepared pool (callbacks and the
    residents who place an order used once)."""

    def __init__(
        self, app, people: list[tuple[str, dict]], callbacks: list[load.Request], placers: list[tuple[str, dict]]
    ):
        self.people, self.callbacks, self.rng = people, iter(callbacks), random.Random(5)
        self.placers, self.placed = iter(placers), []
        with app.app_context():
            rows = db.session.execute(
                db.select(Resident.public_id, Order.order_no, Certificate.token)
                .join(Order, Order.resident_id == Resident.id)
                .join(Certificate, Certificate.order_id == Order.id)
            ).all()
        self.orders = {resident_id: order_no for resident_id, order_no, _ in rows}
        self.tokens = [token for _, _, token in rows]

    def requests(self, count: int) -> list[load.Request]:
        return [self._one(MIX[n % len(MIX)]) for n in range(count)]

    def _one(self, kind: str) -> load.Request:
        resident_id, headers = self.rng.choice(self.people)
        if kind == "callback":
            return _next(self.callbacks, kind)
        if kind == "place":
            return self._placement()
        if kind == "verify":
            return load.http("GET", f"/api/v1/verify/{self.rng.choice(self.tokens)}", label=kind)
        if kind == "order":
            return load.http("GET", f"/api/v1/orders/{self.orders[resident_id]}", headers, label=kind)
        return load.http("GET", f"/api/v1/residents/{resident_id}/{kind}", headers, label=kind)

    def _placement(self) -> load.Request:
        """A resident's own order for 2027, with its own Idempotency-Key."""
        resident_id, headers = _next(self.placers, "place")
        self.placed.append(resident_id)
        headers = {**headers, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        path = f"/api/v1/residents/{resident_id}/contributions"
        return load.http("POST", path, headers, PLACE_BODY, label="place")


def _next(pool: Iterator[T], kind: str) -> T:
    found = next(pool, None)
    if found is None:
        raise SystemExit(f"the {kind} pool ran out: the box serves more than {MAX_RATE}/s, raise MAX_RATE")
    return found


def run(args: argparse.Namespace, env: dict, key) -> int:
    app = create_app({name: env[name] for name in configuration.ENV_KEYS if name in env})
    people = seed(env, args.residents)
    logging.getLogger().setLevel(logging.WARNING)  # after the apps made: not a line per certificate issued
    issue_all(app, people)
    pending = callback_bench.seed(app, int(pool_size(args, "callback") / (1 + DUPLICATES)), NOW)
    deliveries = callback_bench.mixed_deliveries(pending, key, DUPLICATES, random.Random(3), NOW)
    callbacks = [load.http("POST", NOTIFY_PATH, headers, body, label="callback") for body, headers in deliveries]
    mix = Mix(app, people, callbacks, placers(app, pool_size(args, "place"), env["AGENCY_API_BASE"]))
    with harness.gunicorn("wsgi:app", env) as base:
        load.once(base, mix.requests(100), 4)  # warm both workers up
        idle = load.once(base, mix.requests(int(IDLE_SECONDS * 40)), 1)
        capacity = load.once(base, mix.requests(int(CAPACITY_SECONDS * 150)), args.connections)
        rate = args.share * capacity.rps
        print(f"idle      {idle.rps:.0f}/s one at a time, p50 {idle.p50:.1f} ms, p99 {idle.p99:.1f} ms")
        print(f"capacity  {capacity.rps:.0f}/s at {args.connections} connections, p99 {capacity.p99:.1f} ms")
        print(f"sustained {rate:.0f}/s for {args.minutes:g} min (load {harness.load_average()}) ...", flush=True)
        sustained = load.at_rate(base, mix.requests(int(rate * 60 * args.minutes)), rate)
    return report(app, idle, sustained, mix.placed)


def pool_size(args: argparse.Namespace, kind: str) -> int:
    """Requests of `kind` enough for the runs at up to MAX_RATE requests/s (callbacks: duplicates included)."""
    requests = 100 + IDLE_SECONDS * 40 + CAPACITY_SECONDS * 150 + MAX_RATE * args.share * 60 * args.minutes
    return int(requests * MIX.count(kind) / len(MIX)) + 100


def placers(app, count: int, agency: str) -> list[tuple[str, dict]]:
    """`count` residents who have not paid 2027, each known to the sandbox's `agency` registry: (resident_id,
    owner's auth header) each, to place one order each."""
    with app.app_context():
        people = []
        for n in range(count):
            born, sequence = harness.seeded_person(dt.date(1980, 1, 1), n)
            record = new_record(born.isoformat(), sequence)
            add_change(agency, record["id_number"], record=record)
            resident = factories.resident(record["id_number"], record["name"], born)
            people.append((resident.public_id, factories.user(bound_to=resident)))
        db.session.commit()
        return [(resident_id, factories.auth_header(user)) for resident_id, user in people]


def issue_all(app, people: list[tuple[str, dict]]) -> None:
    client = app.test_client()
    for resident_id, headers in people:
        response = client.post(f"/api/v1/residents/{resident_id}/certificates", json={"year": 2027}, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)[:300]


def report(app, idle: harness.Result, sustained: harness.Result, placed: list[str]) -> int:
    written = [exactly_once(app), registered(app, placed)]  # both print what they found
    within = sustained.p99 <= 2 * idle.p99
    print(
        f"sustained {sustained.rps:.0f}/s reached, p50 {sustained.p50:.1f} ms, p99 {sustained.p99:.1f} ms "
        f"({sustained.p99 / idle.p99:.1f}x idle), {sustained.failures} failed of {sustained.requests}"
    )
    print(f"statuses  {sustained.notes['statuses']}")
    print("p99 by kind (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(sustained.notes["labels"].items())))
    windows = sustained.notes["windows"]
    print(f"p99 each {load.WINDOW} s (ms): " + ", ".join(f"{p99:.0f}" for p99 in windows))
    print(f"windows   {sum(p99 <= 2 * idle.p99 for p99 in windows)} of {len(windows)} within 2x the idle p99")
    print(f"slowest s {slowest_seconds(sustained.notes['seconds'])} (idle p50 {idle.p50:.1f} ms)")
    passed = all(written) and within and not sustained.failures
    print(f"verdict   {'PASS' if passed else 'FAIL'} (nothing failed: {not sustained.failures}, within 2x: {within})")
    return 0 if passed else 1


def slowest_seconds(medians: dict[int, float], count: int = 3) -> str:
    """The seconds of the schedule whose median request took longest, in order of time: a stall of the
    box (every request slow at once) rather than a slow path or a backlog."""
    slowest = sorted(sorted(medians, key=medians.__getitem__, reverse=True)[:count])
    return ", ".join(f"{second} s: p50 {medians[second]:.1f} ms" for second in slowest)


def exactly_once(app) -> bool:
    """Every callback order credited is in the inbox as credited once, with exactly its ledger entries."""
    with app.app_context():
        ours, paid = Order.order_no.like("BENCH%"), Order.status == "paid"
        credited = db.session.scalar(db.select(db.func.count()).where(ours, paid))
        total = db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0)
        booked = tuple(
            int(n) for n in db.session.execute(db.select(db.func.count(), total).join(Order).where(ours)).one()
        )
        parts = db.func.sum(db.case((Order.collective_subsidy_fen > 0, 3), else_=2))
        owed = db.func.sum(Order.amount_fen + Order.subsidy_fen + Order.collective_subsidy_fen)
        expected = tuple(int(n or 0) for n in db.session.execute(db.select(parts, owed).where(ours, paid)).one())
        first_credits = db.select(db.func.count(db.distinct(CallbackDelivery.out_order_no)))
        delivered = db.session.scalar(first_credits.where(CallbackDelivery.outcome == "credited"))
        dispose_engines()
    once = credited == delivered and booked == expected
    verdict = "exactly once" if once else "MISMATCH"
    print(f"callbacks {credited} payments credited; ledger entries, fen {booked} (expected {expected}): {verdict}")
    return once


def registered(app, placed: list[str]) -> bool:
    """Every resident who placed an order (public ids) has exactly one for 2027, pending and registered
    with the tax bureau: nothing half written, nothing twice."""
    with app.app_context():
        theirs = db.select(Order.resident_id, Order.status, Order.tax_order_no).join(Resident)
        rows = db.session.execute(theirs.where(Resident.public_id.in_(placed), Order.year == 2027)).all()
    whole = [row for row in rows if row.status == "pending" and row.tax_order_no]
    once = len(rows) == len({row.resident_id for row in rows}) == len(whole) == len(placed)
    verdict = "one each, pending and registered with the tax bureau" if once else "MISMATCH"
    print(f"orders    {len(placed)} placed; {len(rows)} orders of theirs, {len(whole)} registered: {verdict}")
    return once


if __name__ == "__main__":
    sys.exit(main())

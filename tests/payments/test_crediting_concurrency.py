"""Exactly-once crediting under concurrency: 12 deliveries of one payment at the same instant, against a
served app (threads) and against gunicorn with 4 worker processes, on PostgreSQL; and a race that slips
past the row lock, stopped by the unique constraints (both databases)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import subprocess
import sys
import threading

import pytest
import requests

from miniapp_api.payments import crediting as payments
from models import CallbackDelivery, EntryKind, Funder, LedgerEntry, Order, Resident, db
from tests.support import payments as pf
from tests.support.concurrency import at_once
from tests.support.constants import DEFAULT_NOW, ROOT, SANDBOX_TAX_KEY
from tests.support.factories import pending_order, resident
from tests.support.live_server import serve
from tests.support.waiting import free_port, wait_until_up

COUNT = 12


def new_order(app, **fields) -> tuple[str, int]:
    with app.app_context():
        order = pending_order(resident(), collective_fen=15000, **fields)
        db.session.commit()
        return order.order_no, order.id


def fire_together(url: str, deliveries: list[tuple[bytes, dict]]) -> list[tuple[int, str]]:
    """POST every (payload, headers) from its own thread, released at the same instant."""

    def deliver(payload: bytes, headers: dict) -> tuple[int, str]:
        response = requests.post(url, data=payload, headers={**headers, "Content-Type": "application/json"}, timeout=30)
        return response.status_code, response.json()["code"]

    return at_once([functools.partial(deliver, *delivery) for delivery in deliveries])


def retries(key, payload: bytes, count: int = COUNT) -> list[tuple[bytes, dict]]:
    """The same event as the tax bureau retries it: same bytes, each signed with a fresh nonce."""
    return [(payload, pf.signed(key, payload)) for _ in range(count)]


def assert_credited_once(app, order_id: int) -> None:
    with app.app_context():
        assert pf.entries(order_id) == [
            ("collective_subsidy", 15000, "village_collective", "self"),
            ("government_subsidy", 20000, "government", "self"),
            ("personal", 100000, "self", "self"),
        ]
        assert db.session.scalar(db.select(db.func.count()).select_from(LedgerEntry)) == 3


def inbox_outcomes(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.execute(db.select(CallbackDelivery.outcome)).scalars())


@pytest.mark.postgres_only
def test_twelve_identical_callbacks_at_once_credit_exactly_once(pg_app, key):
    order_no, order_id = new_order(pg_app)
    with serve(pg_app) as base:
        answers = fire_together(base + pf.NOTIFY_PATH, retries(key, pf.raw(pf.body(order_no))))
    assert answers == [(200, "SUCCESS")] * COUNT
    assert_credited_once(pg_app, order_id)
    assert inbox_outcomes(pg_app) == ["credited"] + ["duplicate"] * (COUNT - 1)


@pytest.mark.postgres_only
def test_twelve_events_of_one_transaction_at_once_credit_exactly_once(pg_app, key):
    order_no, order_id = new_order(pg_app)
    payloads = [pf.raw(pf.body(order_no, transaction_id="4200ONE")) for _ in range(COUNT)]  # new event ids
    with serve(pg_app) as base:
        answers = fire_together(base + pf.NOTIFY_PATH, [(p, pf.signed(key, p)) for p in payloads])
    assert answers == [(200, "SUCCESS")] * COUNT
    assert_credited_once(pg_app, order_id)


@pytest.mark.postgres_only
def test_one_request_replayed_twelve_times_at_once_is_accepted_once(pg_app, key):
    order_no, order_id = new_order(pg_app)
    payload = pf.raw(pf.body(order_no))
    headers = pf.signed(key, payload)
    with serve(pg_app) as base:
        answers = fire_together(base + pf.NOTIFY_PATH, [(payload, headers)] * COUNT)
    assert sorted(answers) == [(200, "SUCCESS")] + [(409, "FAIL")] * (COUNT - 1)
    assert_credited_once(pg_app, order_id)


@pytest.mark.postgres_only
def test_twelve_different_transactions_at_once_credit_one_and_flag_the_rest(pg_app, key):
    order_no, order_id = new_order(pg_app)
    payloads = [pf.raw(pf.body(order_no, transaction_id=f"4200T{n:02d}")) for n in range(COUNT)]
    with serve(pg_app) as base:
        answers = fire_together(base + pf.NOTIFY_PATH, [(p, pf.signed(key, p)) for p in payloads])
    assert answers == [(200, "SUCCESS")] * COUNT
    assert_credited_once(pg_app, order_id)
    with pg_app.app_context():
        assert len(pf.reviews("double_payment")) == COUNT - 1


@pytest.fixture
def gunicorn(pg_app, keys, database_url, tmp_path):
    """gunicorn with 4 worker processes on the test database, same keys and clock as the test app."""
    port = free_port()
    env = {
        **os.environ,
        **keys,
        "DATABASE_URL": database_url,
        "APP_ENV": "testing",
        "APP_NOW": DEFAULT_NOW,
        "TAX_API_KEY": SANDBOX_TAX_KEY,
        "PUBLIC_BASE_URL": "http://testserver",
    }
    env.pop("REDIS_URL", None)  # nonces through the database table: shared by the workers
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "4",
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "wsgi:app",
    ]
    with open(tmp_path / "gunicorn.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(30)


@pytest.mark.postgres_only
@pytest.mark.slow
def test_twelve_callbacks_across_gunicorn_workers_credit_exactly_once(pg_app, gunicorn, key):
    order_no, order_id = new_order(pg_app)
    answers = fire_together(gunicorn + pf.NOTIFY_PATH, retries(key, pf.raw(pf.body(order_no))))
    assert answers == [(200, "SUCCESS")] * COUNT
    assert_credited_once(pg_app, order_id)
    assert inbox_outcomes(pg_app) == ["credited"] + ["duplicate"] * (COUNT - 1)


def test_a_race_past_the_row_lock_is_stopped_by_the_unique_constraints(app, client, key, monkeypatch):
    """Another worker credits between our read and our write: the ledger's unique index refuses the
    second set of entries, the callback rolls back, re-reads and answers SUCCESS."""
    order_no, order_id = new_order(app)
    raced = []

    def unlocked(payment: payments.Payment):
        order = db.session.execute(db.select(Order).where(Order.order_no == payment.out_order_no)).scalar_one()
        if not raced:
            raced.append(True)
            with app.app_context():  # a second worker: its own session and connection
                payments.credit_payment(payment, "callback")
                db.session.commit()
        return order, False

    monkeypatch.setattr(payments, "locked_for_credit", unlocked)
    answer = pf.post(client, key, pf.raw(pf.body(order_no, transaction_id="4200RACE")))
    assert answer.status_code == 200 and answer.get_json() == {"code": "SUCCESS"}
    assert_credited_once(app, order_id)
    assert inbox_outcomes(app) == ["duplicate"]


@pytest.mark.postgres_only
def test_money_waiting_for_the_resident_lock_sees_the_inheritance_committed_meanwhile(pg_app):
    """A benefits run holds the resident row while it closes the account; crediting waits for that lock
    and must then see the closing entry, whatever snapshot its waiting statement started with."""
    with pg_app.app_context():
        order = pending_order(resident())
        db.session.commit()
        resident_id, order_id, order_no = order.resident_id, order.id, order.order_no
    run = pg_app.app_context()
    run.push()
    db.session.execute(db.select(Resident.id).where(Resident.id == resident_id).with_for_update())
    passed_on = []

    def credit():
        with pg_app.app_context():
            payment = payments.Payment(order_no, "4200HEIRS", 100000, pf.NOW, "wechat")
            assert payments.credit_payment(payment, "callback").outcome == "credited"
            db.session.commit()
            passed_on.extend(db.session.scalars(
                db.select(LedgerEntry.amount_fen).where(LedgerEntry.order_id == order_id,
                                                        LedgerEntry.kind == EntryKind.INHERITANCE_PAYOUT)))  # fmt: skip

    crediting = threading.Thread(target=credit)
    crediting.start()
    crediting.join(1.0)
    assert crediting.is_alive()  # waiting for the run's lock
    db.session.add(LedgerEntry(resident_id=resident_id, year=2027, kind=EntryKind.INHERITANCE_PAYOUT, amount_fen=-1,
                               funder=Funder.INHERITANCE, booked_at=dt.datetime.now(dt.timezone.utc)))  # fmt: skip
    db.session.commit()
    run.pop()
    crediting.join(10)
    assert passed_on == [-120000]


@pytest.mark.postgres_only
def test_a_late_payment_and_its_rivals_payment_at_once_do_not_deadlock(pg_app, monkeypatch):
    """Expired order A is paid late while the payment of its rival, pending order B of the same year,
    arrives: A's crediting holds the resident and goes on to lock B, while B's waits. Both take the
    resident before the order, so B's waits without holding B, and neither delivery fails."""
    late_no, rival_no = pf.late_and_newer(pg_app)
    outcomes: dict[str, str] = {}
    errors: list[Exception] = []

    def credit(order_no: str) -> None:
        with pg_app.app_context():
            try:
                payment = payments.Payment(order_no, f"4200{order_no[-8:]}", 100000, pf.NOW, "wechat")
                outcomes[order_no] = payments.credit_payment(payment, "callback").outcome
                db.session.commit()
            except Exception as error:  # a deadlock, reported by PostgreSQL to one of the two
                db.session.rollback()
                errors.append(error)

    rivals_payment = threading.Thread(target=credit, args=(rival_no,))
    live_rival = payments._live_rival

    def rival_once_its_payment_waits(order):
        if order.order_no == late_no:  # (B's crediting asks too, once it finds B closed in its favour)
            rivals_payment.start()
            rivals_payment.join(1.0)  # now waiting for our locks
        return live_rival(order)

    monkeypatch.setattr(payments, "_live_rival", rival_once_its_payment_waits)
    credit(late_no)
    rivals_payment.join(15)
    assert errors == []
    assert outcomes == {late_no: "credited_late", rival_no: "double_payment"}

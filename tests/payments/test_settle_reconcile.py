"""`payments settle` (active query) and `payments reconcile --date` (statement), over real HTTP against
the sandbox tax bureau; callbacks never arrive (the orders' notify_url is unreachable)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests

from integrations.sandbox.app import create_sandbox_app
from integrations.sandbox.tax_bureau import stop_deliveries
from miniapp_api.core import devkeys
from miniapp_api.payments import crediting as payments
from models import db
from tests.support import payments as pf
from tests.support.constants import DEFAULT_NOW, SANDBOX_TAX_KEY
from tests.support.factories import T0, paid_order, pending_order, resident
from tests.support.live_server import serve

MINUTE = dt.timedelta(minutes=1)
DAY = "2027-03-02"


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["payments", *args])


def local_order(app, age: dt.timedelta = 11 * MINUTE, **fields) -> str:
    with app.app_context():
        order = pending_order(resident(), created_at=pf.NOW - age, **fields)
        db.session.commit()
        return order.order_no


def remote(app, order_no: str, amount_fen: int = 100000) -> None:
    with app.app_context():
        pf.tax_order(order_no, amount_fen)


def state(app, order_no: str) -> tuple[str, int]:
    with app.app_context():
        order = pf.order(order_no)
        return order.status, len(pf.entries(order.id))


def review_count(app) -> int:
    with app.app_context():
        return len(pf.reviews())


# --- settle ---------------------------------------------------------------------------------------


def test_settle_credits_a_payment_whose_callback_never_came(app, client, sandbox, keys):
    order_no = local_order(app)
    remote(app, order_no)
    view = pf.pay_at(sandbox, order_no, "bank_counter")
    result = run(app, "settle")
    assert result.exit_code == 0, result.output
    assert f"{order_no}: credited" in result.output
    assert state(app, order_no) == ("paid", 2)
    with app.app_context():
        order = pf.order(order_no)
        assert (order.transaction_id, order.channel) == (view["transaction_id"], "bank_counter")
    late = pf.raw(pf.body(order_no, transaction_id=view["transaction_id"]))
    assert pf.post(client, pf.sandbox_key(keys), late).status_code == 200  # the callback that came later
    assert state(app, order_no) == ("paid", 2)
    assert "credited" not in run(app, "settle").output  # nothing left to settle


def test_settle_closes_what_the_tax_bureau_closed(app, sandbox):
    order_no = local_order(app)
    remote(app, order_no)
    requests.post(f"{sandbox}/tax/v1/orders/{order_no}/close", timeout=5).raise_for_status()
    assert run(app, "settle").exit_code == 0
    assert state(app, order_no) == ("closed", 0)


def test_settle_expires_orders_past_expiry_pending_or_unknown_there(app, sandbox):
    pending_there = local_order(app, age=31 * MINUTE)
    remote(app, pending_there)
    unknown_there = local_order(app, age=30 * MINUTE)  # exactly at expiry
    result = run(app, "settle")
    assert result.exit_code == 0, result.output
    assert state(app, pending_there) == ("expired", 0) and state(app, unknown_there) == ("expired", 0)


def test_settle_leaves_young_and_still_pending_orders_alone(app, sandbox):
    young_paid = local_order(app, age=5 * MINUTE)
    remote(app, young_paid)
    pf.pay_at(sandbox, young_paid)
    still_pending = local_order(app, age=11 * MINUTE)
    remote(app, still_pending)
    not_there_yet = local_order(app, age=11 * MINUTE)
    result = run(app, "settle")
    assert result.exit_code == 0, result.output
    assert young_paid not in result.output
    assert f"{still_pending}: pending (still pending)" in result.output
    assert f"{not_there_yet}: pending (not known to the tax bureau yet)" in result.output
    assert {state(app, n) for n in (young_paid, still_pending, not_there_yet)} == {("pending", 0)}


def test_settle_keeps_an_amount_mismatch_for_review(app, sandbox):
    order_no = local_order(app)
    remote(app, order_no, amount_fen=50000)
    pf.pay_at(sandbox, order_no)
    result = run(app, "settle")
    assert f"{order_no}: amount_mismatch" in result.output
    assert state(app, order_no) == ("pending", 0)
    with app.app_context():
        (item,) = pf.reviews("amount_mismatch")
        assert (item.source, item.out_order_no) == ("settle", order_no)


def test_settle_fails_loudly_and_changes_nothing_when_the_tax_bureau_is_down(make_app):
    app = make_app(TAX_API_BASE="http://127.0.0.1:9/tax")
    order_no = local_order(app, age=31 * MINUTE)
    result = run(app, "settle")
    assert result.exit_code == 1
    assert "tax bureau is unavailable" in result.output
    assert state(app, order_no) == ("pending", 0)


# --- reconcile ------------------------------------------------------------------------------------


@pytest.fixture
def own_sandbox(keys):
    """A sandbox of this test alone, so that its statement lists only this test's payments."""
    app = create_sandbox_app(
        {
            "SANDBOX_NOW": DEFAULT_NOW,
            "SANDBOX_CLOCK_FROZEN": True,
            "SANDBOX_SPEEDUP": 1000,
            "SANDBOX_TAX_API_KEY": SANDBOX_TAX_KEY,
            "SANDBOX_TAX_KEY_SERIAL": devkeys.SANDBOX_TAX_SERIAL,
            "SANDBOX_TAX_PRIVATE_KEY": str(devkeys.sandbox_tax_private_key(Path(keys["TAX_PUBLIC_KEYS"]).parent)),
        }
    )
    with serve(app) as url:
        yield url
        stop_deliveries(app)


@pytest.fixture
def books(make_app, own_sandbox):
    """An app on the private sandbox with one of each case of reconciliation, paid on 2027-03-02."""
    app = make_app(TAX_API_BASE=f"{own_sandbox}/tax")
    cases = {
        "missed": local_order(app),
        "mismatch": local_order(app),
        "matched": local_order(app),
        "unknown": "SXNOTOURS0001",
    }
    for name, order_no in list(cases.items()):
        remote(app, order_no, 50000 if name == "mismatch" else 100000)
        cases[name + "_txn"] = pf.pay_at(own_sandbox, order_no)["transaction_id"]
    with app.app_context():  # the callback of "matched" did arrive
        payment = payments.Payment(cases["matched"], cases["matched_txn"], 100000, pf.NOW, "wechat")
        payments.credit_payment(payment, "callback")
        cases["absent"] = paid_order(resident(), paid_at=T0).order_no
        paid_order(resident(), paid_at=T0 - dt.timedelta(days=1))  # another day: not this statement's business
        db.session.commit()
    return app, cases


def test_reconcile_credits_missed_payments_and_reports_every_mismatch(books):
    app, cases = books
    result = run(app, "reconcile", "--date", DAY)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("credited") and cases["missed"] in line for line in lines)
    for kind, name in (
        ("amount_mismatch", "mismatch"),
        ("unknown_order", "unknown"),
        ("missing_in_statement", "absent"),
    ):
        assert any(line.startswith(kind) and cases[name] in line for line in lines), (kind, result.output)
    assert not any(cases["matched"] in line for line in lines)
    assert lines[-1] == f"{DAY}: 3 mismatch(es)"
    assert state(app, cases["missed"]) == ("paid", 2)
    assert state(app, cases["mismatch"]) == ("pending", 0)
    with app.app_context():
        assert sorted(item.kind for item in pf.reviews()) == [
            "amount_mismatch",
            "missing_in_statement",
            "unknown_order",
        ]
        assert {item.source for item in pf.reviews()} == {"statement"}


def test_reconcile_runs_again_without_double_effects(books):
    app, cases = books
    first = run(app, "reconcile", "--date", DAY)
    second = run(app, "reconcile", "--date", DAY)
    assert (first.exit_code, second.exit_code) == (1, 1)
    assert not any(line.startswith("credited") for line in second.output.splitlines())
    assert second.output.splitlines()[-1] == f"{DAY}: 3 mismatch(es)"
    assert state(app, cases["missed"]) == ("paid", 2)
    assert review_count(app) == 3


def test_reconcile_exits_zero_when_the_books_match(make_app, own_sandbox):
    app = make_app(TAX_API_BASE=f"{own_sandbox}/tax")
    order_no = local_order(app)
    remote(app, order_no)
    pf.pay_at(own_sandbox, order_no)
    result = run(app, "reconcile", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"{DAY}: 0 mismatch(es)"
    assert run(app, "reconcile", "--date", "2027-03-03").exit_code == 0  # an empty statement
    assert review_count(app) == 0


def test_reconcile_credits_a_payment_after_local_expiry_and_flags_it(make_app, own_sandbox):
    app = make_app(TAX_API_BASE=f"{own_sandbox}/tax")
    order_no = local_order(app, age=40 * MINUTE, status="expired")
    remote(app, order_no)
    pf.pay_at(own_sandbox, order_no)
    result = run(app, "reconcile", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("credited_late")
    assert state(app, order_no) == ("paid", 2)
    with app.app_context():
        assert [item.kind for item in pf.reviews()] == ["paid_after_expiry"]


def test_reconcile_refuses_a_bad_date_and_an_unreachable_tax_bureau(make_app):
    app = make_app(TAX_API_BASE="http://127.0.0.1:9/tax")
    assert run(app, "reconcile", "--date", "02/03/2027").exit_code == 2
    result = run(app, "reconcile", "--date", DAY)
    assert result.exit_code == 1 and "tax bureau is unavailable" in result.output

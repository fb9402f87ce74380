"""Crediting through the callback: ledger entries with funders and payer, the state machine, duplicates,
review items, and a failure half-way that leaves nothing behind."""

from __future__ import annotations

import datetime as dt

import pytest

from miniapp_api.payments import crediting as payments
from models import LedgerEntry, db
from tests.support import payments as pf
from tests.support.factories import expired_order, paid_order, pending_order, resident


def make_order(app, **fields) -> tuple[str, int]:
    with app.app_context():
        order = pending_order(resident(), **fields)
        db.session.commit()
        return order.order_no, order.id


def test_a_success_callback_credits_personal_and_subsidy_with_funders_and_payer(app, client, key):
    order_no, order_id = make_order(app)
    event = pf.body(order_no, transaction_id="4200T1", channel="bank_app")
    response = pf.post(client, key, pf.raw(event))
    assert response.status_code == 200 and response.get_json() == {"code": "SUCCESS"}
    with app.app_context():
        order = pf.order(order_no)
        assert (order.status, order.transaction_id, order.channel) == ("paid", "4200T1", "bank_app")
        assert order.paid_at == dt.datetime.fromisoformat("2027-03-02T09:58:00+08:00")
        assert pf.entries(order_id) == [
            ("government_subsidy", 20000, "government", "self"),
            ("personal", 100000, "self", "self"),
        ]
        rows = db.session.execute(db.select(LedgerEntry).where(LedgerEntry.order_id == order_id)).scalars()
        assert {(row.year, row.booked_at, row.resident_id) for row in rows} == {(2027, pf.NOW, order.resident_id)}
        assert [d.outcome for d in pf.inbox()] == ["credited"]


@pytest.mark.parametrize(
    ("payer", "kind", "collective", "expected"),
    [
        (
            "supporter",
            "normal",
            15000,
            [
                ("collective_subsidy", 15000, "village_collective", "supporter"),
                ("government_subsidy", 20000, "government", "supporter"),
                ("personal", 100000, "supporter", "supporter"),
            ],
        ),
        (
            "government",
            "proxy",
            0,
            [
                ("government_subsidy", 20000, "government", "government"),
                ("personal", 100000, "government", "government"),
            ],
        ),
    ],
)
def test_funders_follow_the_payer_and_collective_subsidy_is_booked_where_it_applies(
    app, client, key, payer, kind, collective, expected
):
    order_no, order_id = make_order(app, payer=payer, kind=kind, collective_fen=collective)
    assert pf.post(client, key, pf.raw(pf.body(order_no))).status_code == 200
    with app.app_context():
        assert pf.entries(order_id) == expected


def test_a_back_payment_without_subsidy_books_the_personal_entry_only(app, client, key):
    order_no, order_id = make_order(app, kind="back_payment", year=2024, subsidy_fen=0)
    assert pf.post(client, key, pf.raw(pf.body(order_no))).status_code == 200
    with app.app_context():
        assert pf.entries(order_id) == [("personal", 100000, "self", "self")]


def test_the_same_event_again_is_success_and_credits_nothing_more(app, client, key):
    order_no, order_id = make_order(app)
    payload = pf.raw(pf.body(order_no))
    answers = [pf.post(client, key, payload) for _ in range(3)]  # fresh nonces, as the bureau retries
    assert [(a.status_code, a.get_json()["code"]) for a in answers] == [(200, "SUCCESS")] * 3
    with app.app_context():
        assert len(pf.entries(order_id)) == 2
        assert [d.outcome for d in pf.inbox()] == ["credited", "duplicate", "duplicate"]


def test_the_same_transaction_in_a_new_event_credits_nothing_more(app, client, key):
    order_no, order_id = make_order(app)
    for _ in range(2):
        answer = pf.post(client, key, pf.raw(pf.body(order_no, transaction_id="4200SAME")))
        assert answer.status_code == 200
    with app.app_context():
        assert len(pf.entries(order_id)) == 2 and pf.reviews() == []


def test_a_second_transaction_for_a_paid_order_is_a_double_payment_for_review(app, client, key):
    order_no, order_id = make_order(app)
    pf.post(client, key, pf.raw(pf.body(order_no, transaction_id="4200FIRST")))
    answer = pf.post(client, key, pf.raw(pf.body(order_no, transaction_id="4200SECOND")))
    assert answer.status_code == 200 and answer.get_json() == {"code": "SUCCESS"}
    with app.app_context():
        assert pf.order(order_no).transaction_id == "4200FIRST" and len(pf.entries(order_id)) == 2
        (item,) = pf.reviews("double_payment")
        assert (item.out_order_no, item.transaction_id, item.source) == (order_no, "4200SECOND", "callback")


def test_an_unknown_order_is_refused_and_kept_for_review(app, client, key):
    answer = pf.post(client, key, pf.raw(pf.body("SXNOSUCHORDER", transaction_id="4200U")))
    assert answer.status_code == 404
    assert answer.get_json() == {"code": "FAIL", "message": "no such order"}
    with app.app_context():
        (item,) = pf.reviews("unknown_order")
        assert (item.out_order_no, item.transaction_id, item.detail["amount_fen"]) == ("SXNOSUCHORDER", "4200U", 100000)
        assert [d.outcome for d in pf.inbox()] == ["unknown_order"]


def test_an_amount_mismatch_is_refused_and_kept_for_review_once(app, client, key):
    order_no, order_id = make_order(app)
    payload = pf.raw(pf.body(order_no, amount_fen=50000, transaction_id="4200M"))
    answers = [pf.post(client, key, payload) for _ in range(2)]
    assert [a.status_code for a in answers] == [409, 409]
    assert answers[0].get_json() == {"code": "FAIL", "message": "paid 50000 fen, order is 100000 fen"}
    with app.app_context():
        assert pf.order(order_no).status == "pending" and pf.entries(order_id) == []
        (item,) = pf.reviews("amount_mismatch")  # deduplicated
        assert item.detail["order_amount_fen"] == 100000


def test_closed_closes_a_pending_order(app, client, key):
    order_no, order_id = make_order(app)
    answer = pf.post(client, key, pf.raw(pf.body(order_no, status="CLOSED")))
    assert answer.status_code == 200 and answer.get_json() == {"code": "SUCCESS"}
    with app.app_context():
        assert pf.order(order_no).status == "closed" and pf.entries(order_id) == []


def test_closed_after_success_changes_nothing(app, client, key):
    order_no, order_id = make_order(app)
    pf.post(client, key, pf.raw(pf.body(order_no, transaction_id="4200P")))
    answer = pf.post(client, key, pf.raw(pf.body(order_no, status="CLOSED")))
    assert answer.status_code == 200 and answer.get_json() == {"code": "SUCCESS"}
    with app.app_context():
        order = pf.order(order_no)
        assert (order.status, order.transaction_id) == ("paid", "4200P") and len(pf.entries(order_id)) == 2
        assert [d.outcome for d in pf.inbox()] == ["credited", "unchanged"]


@pytest.mark.parametrize("status", ["expired", "closed"])
def test_success_after_local_expiry_is_credited_and_flagged(app, client, key, status):
    order_no, order_id = make_order(app, status=status, created_at=pf.NOW - dt.timedelta(hours=2))
    answer = pf.post(client, key, pf.raw(pf.body(order_no, transaction_id="4200LATE")))
    assert answer.status_code == 200 and answer.get_json() == {"code": "SUCCESS"}
    with app.app_context():
        order = pf.order(order_no)
        assert (order.status, order.review_reason) == ("paid", "paid_after_expiry")
        assert len(pf.entries(order_id)) == 2
        (item,) = pf.reviews("paid_after_expiry")
        assert (item.out_order_no, item.transaction_id) == (order_no, "4200LATE")
        assert [d.outcome for d in pf.inbox()] == ["credited_late"]


def test_a_late_payment_closes_a_newer_pending_order_of_the_same_year(app, client, key):
    late_no, newer_no = pf.late_and_newer(app)
    assert pf.post(client, key, pf.raw(pf.body(late_no))).status_code == 200
    with app.app_context():
        assert pf.order(late_no).status == "paid"
        assert (pf.order(newer_no).status, pf.order(newer_no).review_reason) == ("closed", "superseded_by_late_payment")


def test_a_late_payment_for_a_year_already_paid_is_a_double_payment(app, client, key):
    with app.app_context():
        owner = resident()
        late = expired_order(owner)
        paid_order(owner)
        db.session.commit()
        late_no, late_id = late.order_no, late.id
    answer = pf.post(client, key, pf.raw(pf.body(late_no)))
    assert answer.status_code == 200
    with app.app_context():
        assert pf.order(late_no).status == "expired" and pf.entries(late_id) == []
        assert [item.out_order_no for item in pf.reviews("double_payment")] == [late_no]


def test_a_transaction_already_credited_to_another_order_is_refused(app, client, key):
    with app.app_context():
        taken = paid_order(resident()).transaction_id
        db.session.commit()
    order_no, order_id = make_order(app)
    answer = pf.post(client, key, pf.raw(pf.body(order_no, transaction_id=taken)))
    assert answer.status_code == 409
    with app.app_context():
        assert pf.order(order_no).status == "pending" and len(pf.reviews("transaction_conflict")) == 1


def test_a_failure_between_order_and_ledger_leaves_nothing_and_the_retry_credits_once(app, client, key, monkeypatch):
    order_no, order_id = make_order(app)
    changed = []

    def broken_ledger(order, closed):
        changed.append(pf.order(order.order_no).status)  # the order row was already updated in the transaction
        raise RuntimeError("disk full")

    monkeypatch.setattr(payments, "write_ledger", broken_ledger)
    payload = pf.raw(pf.body(order_no, transaction_id="4200F"))
    answer = pf.post(client, key, payload)
    assert answer.status_code == 500 and answer.get_json()["code"] == "FAIL"
    assert changed == ["paid"]
    with app.app_context():
        order = pf.order(order_no)
        assert (order.status, order.transaction_id, order.paid_at) == ("pending", None, None)
        assert pf.entries(order_id) == []
        assert [(d.outcome, d.raw_body) for d in pf.inbox()] == [("error", payload)]
    monkeypatch.undo()
    assert pf.post(client, key, payload).status_code == 200
    assert pf.post(client, key, payload).status_code == 200
    with app.app_context():
        assert pf.order(order_no).status == "paid" and len(pf.entries(order_id)) == 2
        assert [d.outcome for d in pf.inbox()] == ["error", "credited", "duplicate"]


def test_crediting_is_one_function_the_cli_and_the_demo_can_call(app):
    with app.app_context():
        order = pending_order(resident(), payer="supporter")
        payment = payments.Payment(order.order_no, "4200D", 100000, pf.NOW, "e_tax")
        result = payments.credit_payment(payment, "settle")
        db.session.commit()
        assert (result.outcome, result.accepted, result.order.status) == ("credited", True, "paid")
        assert payments.credit_payment(payment, "settle").outcome == "duplicate"


@pytest.mark.parametrize(
    ("payer", "kind", "own_kind"),
    [
        ("self", "normal", "personal"),
        ("supporter", "back_payment", "personal"),
        ("government", "proxy", "personal"),
        ("sponsor", "lump_sum", "sponsorship"),
    ],
)
def test_the_paid_orders_of_the_test_factories_are_booked_by_crediting_at_paid_at(app, payer, kind, own_kind):
    paid_at = dt.datetime(2026, 3, 2, 2, tzinfo=dt.timezone.utc)
    with app.app_context():
        order = paid_order(resident(), year=2026, paid_at=paid_at, payer=payer, kind=kind, collective_fen=5000)
        assert (order.status, order.paid_at, order.channel) == ("paid", paid_at, "wechat")
        assert pf.entries(order.id) == [
            ("collective_subsidy", 5000, "village_collective", payer),
            ("government_subsidy", 20000, "government", payer),
            (own_kind, 100000, payer, payer),
        ]
        rows = db.session.execute(db.select(LedgerEntry).where(LedgerEntry.order_id == order.id)).scalars()
        assert {row.booked_at for row in rows} == {paid_at}
        assert app.extensions["clock"].now() == pf.NOW  # the app clock stands where it stood before

"""R5 with `payments_per_year` n > 1 (a Ningxia-style standard) end to end, and R6's lump-sum year."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import Order, db
from tests.support import payments as pf
from tests.support.miniapp import verified
from tests.support.problems import assert_problem


@pytest.fixture
def app(make_app, tmp_path):
    policy = tmp_path / "twice-a-year.json"
    policy.write_text(json.dumps({"name": "shanxi-2021", "base": "shanxi-2021", "payments_per_year": 2}))
    return make_app(POLICY_FILE=str(policy))


def contribute(client, headers, resident_id, tier_fen, kind="normal", **extra):
    return client.post(
        f"/api/v1/residents/{resident_id}/contributions",
        json={"year": 2027, "tier_fen": tier_fen, "kind": kind, **extra},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )


def options(client, headers, resident_id) -> dict:
    return client.get(f"/api/v1/residents/{resident_id}/contribution-options", headers=headers).get_json()


def pay(client, keys, order: dict) -> None:
    callback = pf.raw(pf.body(order["order_no"], amount_fen=order["amount_fen"]))
    assert pf.post(client, pf.sandbox_key(keys), callback).status_code == 200


def test_two_normal_payments_a_year_each_with_its_subsidy_and_no_third(app, keys):
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    rid = me["resident_id"]
    assert (
        options(client, headers, rid)["payments_per_year"],
        options(client, headers, rid)["normal_payments_left"],
    ) == (2, 2)
    first = contribute(client, headers, rid, 20000)
    assert first.status_code == 201 and first.get_json()["subsidy_fen"] == 7000
    assert_problem(contribute(client, headers, rid, 50000), 409, "order_pending")  # one pending at a time
    pay(client, keys, first.get_json())
    between = options(client, headers, rid)
    assert (between["normal"]["allowed"], between["normal_payments_left"]) == (True, 1)
    second = contribute(client, headers, rid, 50000)
    assert second.status_code == 201 and second.get_json()["subsidy_fen"] == 12000
    pay(client, keys, second.get_json())
    after = options(client, headers, rid)
    assert (after["normal"], after["normal_payments_left"]) == ({"allowed": False, "reason": "already_paid"}, 0)
    assert_problem(contribute(client, headers, rid, 20000), 409, "already_paid")
    account = client.get(f"/api/v1/residents/{rid}/account", headers=headers).get_json()
    assert (account["paid_years"], account["cumulative_years"]) == ([2027], 1)
    assert account["balance_fen"] == 20000 + 7000 + 50000 + 12000
    with app.app_context():
        slots = db.session.execute(sa.select(Order.slot, Order.status).order_by(Order.slot)).all()
    assert [tuple(row) for row in slots] == [(1, "paid"), (2, "paid")]


def test_the_database_holds_one_live_normal_order_per_slot(app, keys):
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    pay(client, keys, contribute(client, headers, me["resident_id"], 20000).get_json())
    with app.app_context():
        paid = db.session.scalar(sa.select(Order))
        twin = {
            c.name: getattr(paid, c.name) for c in Order.__table__.columns if c.name not in ("id", "transaction_id")
        }
        for slot, refused in ((1, True), (2, False), (2, True)):
            try:
                with db.session.begin_nested():
                    db.session.execute(
                        sa.insert(Order).values({**twin, "order_no": uuid.uuid4().hex[:20], "slot": slot})
                    )
                inserted = True
            except IntegrityError:
                inserted = False
            assert inserted is not refused, slot
        db.session.rollback()


@pytest.mark.parametrize(
    "year, reason", [(2000, "year_before_scheme"), (2026, "not_current_year"), (2028, "future_year")]
)
def test_a_lump_sum_must_be_for_the_current_year(make_app, year, reason):
    client = make_app().test_client()
    headers, me = verified(client, "elder_1950")
    refused = contribute(client, headers, me["resident_id"], 100000, kind="lump_sum", years=3, year=year)
    assert_problem(refused, 409, "not_allowed")
    assert refused.get_json()["reason"] == reason
    assert contribute(client, headers, me["resident_id"], 100000, kind="lump_sum", years=3).status_code == 201

"""The tax bureau is asked with no row lock and no transaction held (API.md, INTEGRATIONS.md §4), and the
three steps around that call (reserve, register, answer) add up to one request that happened or did not."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import jsonify, request

from miniapp_api.contributions import service
from miniapp_api.core.config import database_uri
from models import IdempotencyRecord, Order, OrderStatus, Resident, WeChatUser, db
from tests.support.database import count
from tests.support.live_server import serve
from tests.support.miniapp import verified
from tests.support.upstream import fake_app

NORMAL = {"year": 2027, "tier_fen": 100000, "kind": "normal"}


def _contribute(client, headers, resident_id, key):
    return client.post(
        f"/api/v1/residents/{resident_id}/contributions", json=NORMAL, headers={**headers, "Idempotency-Key": key}
    )


def _tax_bureau_probing(database_url: str, seen: list):
    """A tax bureau that, while it creates an order, checks from another connection that nothing is held."""
    engine = sa.create_engine(database_uri(database_url))

    def create_order():
        with engine.connect() as other:
            other.execute(sa.text("SET lock_timeout = '100ms'"))
            try:
                other.execute(sa.text("SELECT id FROM residents FOR UPDATE NOWAIT")).all()
                seen.append("residents free")
            except sa.exc.OperationalError:
                seen.append("residents locked")
            waiting = other.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            seen.append(f"{waiting} transactions open")
            other.rollback()
        return jsonify({"order_no": f"T-{request.get_json()['out_order_no']}", "pay_params": {"package": "p"}}), 201

    return fake_app(create_order), engine


@pytest.mark.postgres_only
def test_no_lock_and_no_transaction_is_held_while_the_tax_bureau_answers(make_app, database_url):
    seen: list[str] = []
    bureau, engine = _tax_bureau_probing(database_url, seen)
    with serve(bureau) as base:
        app = make_app(TAX_API_BASE=base)
        client = app.test_client()
        headers, me = verified(client, "ordinary_1975")
        response = _contribute(client, headers, me["resident_id"], "probe-1")
    engine.dispose()
    assert response.status_code == 201, response.get_json()
    assert seen == ["residents free", "0 transactions open"]


def test_the_tax_bureau_down_leaves_nothing_and_the_same_key_works_once_it_is_back(make_app, sandbox):
    down = make_app(TAX_API_BASE="http://127.0.0.1:9/tax")
    client = down.test_client()
    headers, me = verified(client, "ordinary_1975")
    refused = _contribute(client, headers, me["resident_id"], "again-1")
    assert refused.status_code == 503 and refused.get_json()["code"] == "tax_bureau_unavailable"
    assert count(down, Order) == 0 and count(down, IdempotencyRecord) == 0
    back = make_app().test_client()
    placed = _contribute(back, headers, me["resident_id"], "again-1")
    assert placed.status_code == 201 and placed.get_json()["pay_params"]


def test_a_request_cut_short_after_the_reservation_is_carried_on_by_its_repeat(app, client):
    headers, me = verified(client, "ordinary_1975")
    with app.test_request_context(f"/api/v1/residents/{me['resident_id']}/contributions", method="POST"):
        resident = db.session.scalar(db.select(Resident).where(Resident.public_id == me["resident_id"]))
        user = db.session.scalar(db.select(WeChatUser).where(WeChatUser.resident_id == resident.id))
        reserved = service.reserve(user, resident, "self", dict(NORMAL), "cut-1")  # then the worker died
        reserved_no = reserved.order_no
    repeat = _contribute(client, headers, me["resident_id"], "cut-1")
    assert repeat.status_code == 201 and repeat.get_json()["order_no"] == reserved_no
    assert repeat.get_json()["pay_params"]
    again = _contribute(client, headers, me["resident_id"], "cut-1")
    assert again.get_json() == repeat.get_json()
    with app.app_context():
        order = db.session.scalar(db.select(Order).where(Order.order_no == reserved_no))
        assert order.status == OrderStatus.PENDING and order.tax_order_no
        assert count(app, Order) == 1

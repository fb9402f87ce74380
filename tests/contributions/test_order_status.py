"""Following an order (`GET /api/v1/orders/{order_no}`): what a client polls after paying."""

from __future__ import annotations

import pytest

from models import Order, WeChatUser, db
from tests.support import factories
from tests.support.callers import CALLERS, OUTSIDERS
from tests.support.database import counted

ORDER_NO = "SX20270302POLLED00000001"


@pytest.fixture
def order(resident_with_callers):
    """A pending order of a resident; auth headers of everyone around them."""

    def build():
        owner = factories.resident()
        factories.pending_order(owner, order_no=ORDER_NO)
        return owner

    return resident_with_callers(build)[1]


@pytest.mark.parametrize("who", CALLERS)
def test_only_the_resident_and_an_active_supporter_see_the_order(client, order, who):
    response = client.get(f"/api/v1/orders/{ORDER_NO}", headers=order[who])
    if who in OUTSIDERS:
        assert (response.status_code, response.get_json()["code"]) == (404, "not_found")
    else:
        assert response.status_code == 200 and response.get_json()["status"] == "pending"


@pytest.mark.parametrize("order_no", [ORDER_NO, "SX20270302NOSUCHORDER0001"])
def test_without_a_genuine_token_every_order_is_401_and_nothing_is_read(app, client, order, order_no):
    for headers in ({}, {"Authorization": "Bearer forged"}):
        with counted(app) as statements:
            response = client.get(f"/api/v1/orders/{order_no}", headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (401, "unauthorized")
        assert statements == []


@pytest.mark.parametrize("order_no", [ORDER_NO, "SX20270302NOSUCHORDER0001"])
def test_a_token_of_an_ended_generation_is_401(app, client, order, order_no):
    """The binding moved or ended (the user's generation was raised): the token is refused first."""
    with app.app_context():
        owner = db.select(Order.resident_id).where(Order.order_no == ORDER_NO).scalar_subquery()
        user = db.session.scalars(db.select(WeChatUser).where(WeChatUser.resident_id == owner)).one()
        stale = factories.auth_header(user)
        user.token_generation += 1
        db.session.commit()
    response = client.get(f"/api/v1/orders/{order_no}", headers=stale)
    assert (response.status_code, response.get_json()["code"]) == (401, "unauthorized")


def test_an_unknown_order_answers_as_someone_elses_does(client, order):
    """Nobody learns from the answer whether an order number exists."""
    unknown = client.get("/api/v1/orders/SX20270302NOSUCHORDER0001", headers=order["self"])
    others = client.get(f"/api/v1/orders/{ORDER_NO}", headers=order["stranger"])
    assert unknown.status_code == others.status_code == 404
    assert {**unknown.get_json(), "instance": None} == {**others.get_json(), "instance": None}


def test_polling_an_order_is_one_statement(app, client, order):
    """The order, its resident and the caller's user row come in one statement."""
    with app.app_context():  # the engine's first connection sets up the dialect: not the request's doing
        db.session.execute(db.select(1))
    with counted(app) as statements:
        assert client.get(f"/api/v1/orders/{ORDER_NO}", headers=order["self"]).status_code == 200
    assert len(statements) == 1, statements

"""Contribution options and orders (API.md 'Contributions', POLICY.md R2–R8) through the API and sandbox."""

import datetime as dt
import uuid

import pytest

from integrations.sandbox import demo_data
from models import IdempotencyRecord, Order, db
from tests.support import callers, factories
from tests.support.database import count
from tests.support.miniapp import verified


def _post(client, headers, resident_id, body, key=None):
    return client.post(
        f"/api/v1/residents/{resident_id}/contributions",
        json=body,
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


NORMAL = {"year": 2027, "tier_fen": 100000, "kind": "normal"}


def test_options_for_an_ordinary_resident(client):
    headers, me = verified(client, "ordinary_1975")
    body = client.get(f"/api/v1/residents/{me['resident_id']}/contribution-options", headers=headers).get_json()
    assert body["year"] == 2027 and body["window"]["open"] is True
    assert body["window"]["opens_at"] == "2027-03-01T00:00:00+08:00"
    assert body["window"]["closes_at"] == "2027-03-26T00:00:00+08:00"
    assert [t["amount_fen"] for t in body["tiers"]] == [20000, 50000, 100000, 200000, 500000]
    assert [t["subsidy_fen"] for t in body["tiers"]] == [7000, 12000, 20000, 36000, 60000]
    assert body["normal"] == {"allowed": True, "reason": None}
    assert body["back_payment"] == {"years": [2021, 2022, 2023, 2024, 2025, 2026], "remaining_years": 15}
    assert body["paid_by_government"] is False


def test_hardship_resident_is_paid_by_the_government(client):
    headers, me = verified(client, "dibao_1972")
    body = client.get(f"/api/v1/residents/{me['resident_id']}/contribution-options", headers=headers).get_json()
    assert body["paid_by_government"] is True and body["normal"] == {"allowed": False, "reason": "paid_by_government"}
    response = _post(client, headers, me["resident_id"], {"year": 2027, "tier_fen": 20000, "kind": "normal"})
    assert response.status_code == 409 and response.get_json()["code"] == "not_allowed"
    assert response.get_json()["reason"] == "paid_by_government"


def test_normal_order_is_created_at_the_tax_bureau(app, client):
    headers, me = verified(client, "ordinary_1975")
    response = _post(client, headers, me["resident_id"], NORMAL)
    body = response.get_json()
    assert response.status_code == 201 and body["status"] == "pending"
    assert body["amount_fen"] == 100000 and body["subsidy_fen"] == 20000 and body["collective_subsidy_fen"] == 0
    assert body["expires_at"] == "2027-03-02T10:30:00+08:00"
    assert {"timeStamp", "nonceStr", "package", "signType", "paySign"} <= body["pay_params"].keys()
    order = client.get(f"/api/v1/orders/{body['order_no']}", headers=headers).get_json()
    assert order["status"] == "pending" and order["payer"] == "self" and order["resident_id"] == me["resident_id"]
    assert order["kind"] == "normal" and order["year"] == 2027


def test_collective_subsidy_for_a_villager_aged_50_to_64(client):
    headers, me = verified(client, "collective_1970")
    body = _post(client, headers, me["resident_id"], NORMAL).get_json()
    assert body["collective_subsidy_fen"] == 5000 and body["subsidy_fen"] == 20000


def test_idempotency_key_replays_and_refuses_a_different_body(app, client):
    headers, me = verified(client, "ordinary_1985")
    first = _post(client, headers, me["resident_id"], NORMAL, key="k-1")
    again = _post(client, headers, me["resident_id"], NORMAL, key="k-1")
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    other = _post(client, headers, me["resident_id"], {**NORMAL, "tier_fen": 200000}, key="k-1")
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    second_key = _post(client, headers, me["resident_id"], NORMAL, key="k-2")
    assert second_key.status_code == 409 and second_key.get_json()["code"] == "order_pending"
    assert count(app, Order) == 1


def test_missing_idempotency_key_is_refused(client):
    headers, me = verified(client, "ordinary_1985")
    response = client.post(f"/api/v1/residents/{me['resident_id']}/contributions", json=NORMAL, headers=headers)
    assert response.status_code == 400 and response.get_json()["code"] == "idempotency_key_required"


def test_pending_order_expires_after_30_minutes(make_app):
    app = make_app()
    client = app.test_client()
    headers, me = verified(client, "ordinary_1966")
    order_no = _post(client, headers, me["resident_id"], NORMAL).get_json()["order_no"]
    later = make_app(
        APP_NOW="2027-03-02T10:30:01+08:00",
        DATABASE_URL=app.config["DATABASE_URL"],
        SECRET_KEY=app.config["SECRET_KEY"],
    ).test_client()
    assert later.get(f"/api/v1/orders/{order_no}", headers=headers).get_json()["status"] == "expired"
    assert _post(later, headers, me["resident_id"], NORMAL).status_code == 201


@pytest.mark.parametrize(
    "key, body, status, code",
    [
        ("ordinary_1975", {**NORMAL, "tier_fen": 150000}, 422, "invalid_tier"),
        ("unpaid_1980", NORMAL, 409, "basic_pension_unpaid"),
        ("corrected_today", NORMAL, 409, "registration_updated_today"),
        ("ordinary_1975", {**NORMAL, "year": 2026}, 409, "not_allowed"),
        ("ordinary_1975", {"year": 2027, "tier_fen": 100000, "kind": "back_payment"}, 409, "not_allowed"),
        ("ordinary_1975", {"year": 2027, "tier_fen": 100000, "kind": "lump_sum", "years": 3}, 409, "not_allowed"),
    ],
)
def test_rule_refusals(client, key, body, status, code):
    headers, me = verified(client, key)
    response = _post(client, headers, me["resident_id"], body)
    assert response.status_code == status and response.get_json()["code"] == code


def test_deceased_resident_cannot_contribute(app, client):
    person = demo_data.by_key("deceased_1952")
    with app.app_context():
        resident = factories.resident(person["id_number"], person["name"], dt.date(1952, 8, 8))
        headers = factories.auth_header(factories.user(resident))
        db.session.commit()
        resident_id = resident.public_id
    response = _post(client, headers, resident_id, NORMAL)
    assert response.status_code == 409 and response.get_json()["code"] == "deceased"


def test_already_paid_year(app, client):
    headers, me = verified(client, "ordinary_1975")
    with app.app_context():
        from models import Resident

        resident = db.session.scalar(db.select(Resident).where(Resident.public_id == me["resident_id"]))
        factories.paid_order(resident, year=2027)
        db.session.commit()
    response = _post(client, headers, me["resident_id"], NORMAL)
    assert response.status_code == 409 and response.get_json()["code"] == "already_paid"


def test_back_payment_has_no_subsidy(client):
    headers, me = verified(client, "ordinary_1975")
    body = _post(
        client, headers, me["resident_id"], {"year": 2023, "tier_fen": 50000, "kind": "back_payment"}
    ).get_json()
    assert body["amount_fen"] == 50000 and body["subsidy_fen"] == 0 and body["collective_subsidy_fen"] == 0


def test_lump_sum_for_someone_already_65_in_2021(client):
    headers, me = verified(client, "elder_1950")
    body = _post(
        client, headers, me["resident_id"], {"year": 2027, "tier_fen": 20000, "kind": "lump_sum", "years": 15}
    ).get_json()
    assert body["amount_fen"] == 300000 and body["subsidy_fen"] == 0


@pytest.mark.parametrize(
    "now, opens_at",
    [
        ("2027-03-26T00:00:00+08:00", "2027-04-01T00:00:00+08:00"),
        ("2027-03-25T16:30:00+00:00", "2027-04-01T00:00:00+08:00"),
        ("2027-07-01T09:00:00+08:00", "2028-01-01T00:00:00+08:00"),
    ],
)
def test_window_closed_says_when_it_opens(make_app, now, opens_at):
    client = make_app(APP_NOW=now).test_client()
    headers, me = verified(client, "ordinary_1975")
    response = _post(client, headers, me["resident_id"], NORMAL)
    body = response.get_json()
    assert response.status_code == 409 and body["code"] == "window_closed" and body["opens_at"] == opens_at


def test_tax_bureau_down_leaves_nothing_behind(make_app):
    app = make_app(TAX_API_BASE="http://127.0.0.1:9/tax")
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    response = _post(client, headers, me["resident_id"], NORMAL, key="down-1")
    assert response.status_code == 503 and response.get_json()["code"] == "tax_bureau_unavailable"
    assert count(app, Order) == 0 and count(app, IdempotencyRecord) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"year": "2027", "tier_fen": 100000, "kind": "normal"},
        {"year": 2027, "tier_fen": -100000, "kind": "normal"},
        {"year": 2027, "tier_fen": 1000.5, "kind": "normal"},
        {"year": 2027, "tier_fen": "100000", "kind": "normal"},
        {"year": 2027, "tier_fen": True, "kind": "normal"},
        {"year": 2027, "tier_fen": 100000, "kind": "sponsorship"},
        {"year": 2027, "tier_fen": 100000},
        {"year": 2027, "tier_fen": 100000, "kind": "normal", "surprise": 1},
        {"year": 2027, "tier_fen": 100000, "kind": "lump_sum", "years": 16},
        [],
    ],
    ids=[
        "year-string",
        "negative",
        "fractional",
        "amount-string",
        "bool",
        "unknown-kind",
        "missing-kind",
        "unknown-field",
        "too-many-years",
        "not-an-object",
    ],
)
def test_bad_bodies_are_422_and_write_nothing(app, client, body):
    headers, me = verified(client, "ordinary_1975")
    response = _post(client, headers, me["resident_id"], body)
    assert response.status_code == 422 and response.get_json()["errors"]
    assert count(app, Order) == 0


def test_non_utf8_body_is_422(app, client):
    headers, me = verified(client, "ordinary_1975")
    response = client.post(
        f"/api/v1/residents/{me['resident_id']}/contributions",
        data=b'{"year": "\xff"}',
        content_type="application/json",
        headers={**headers, "Idempotency-Key": "x"},
    )
    assert response.status_code == 422 and count(app, Order) == 0


def test_orders_of_others_are_404(app, client):
    headers, me = verified(client, "ordinary_1975")
    order_no = _post(client, headers, me["resident_id"], NORMAL).get_json()["order_no"]
    with app.app_context():
        stranger = factories.auth_header(callers.stranger())
        db.session.commit()
    assert client.get(f"/api/v1/orders/{order_no}", headers=stranger).status_code == 404
    assert client.get("/api/v1/orders/SXNOPE", headers=headers).status_code == 404


def test_a_replay_needs_no_counterpart(make_app):
    """The stored answer comes back even while the registry and the tax bureau are down."""
    app = make_app()
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    first = _post(client, headers, me["resident_id"], NORMAL, key="k-offline")
    offline = make_app(
        AGENCY_API_BASE="http://127.0.0.1:9/agency",
        TAX_API_BASE="http://127.0.0.1:9/tax",
        DATABASE_URL=app.config["DATABASE_URL"],
        SECRET_KEY=app.config["SECRET_KEY"],
    )
    again = _post(offline.test_client(), headers, me["resident_id"], NORMAL, key="k-offline")
    assert again.status_code == 201 and again.get_json() == first.get_json()

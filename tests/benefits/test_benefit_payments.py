"""`GET /residents/{id}/benefits` (API.md): every monthly payment with its parts, for the resident and
those who act for them (R14); and the whole life of a never-app pensioner, end to end."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from models import LedgerEntry, Resident, WeChatUser, db
from tests.support import factories
from tests.support.callers import OUTSIDERS

FIELDS = {
    "month",
    "account_pension_fen",
    "fund_pension_fen",
    "exit_subsidy_fen",
    "supplements_fen",
    "total_fen",
    "arrears",
    "booked_at",
}


def _beijing(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text + "+08:00")


def _run(app, month: str) -> dict:
    result = app.test_cli_runner().invoke(args=["benefits", "run", "--month", month])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture
def pensioner(app, resident_with_callers):
    """Already 65 at the scheme start, 1,200 yuan in the account since 2021-01-01 (carried over)."""

    def build():
        owner = factories.resident(name="杨桂芝", birth_date=dt.date(1950, 3, 15), receiving_basic_pension=True)
        factories.paid_order(
            owner, year=2021, tier_fen=100000, subsidy_fen=20000, paid_at=_beijing("2020-12-31T10:00:00")
        )
        return owner

    resident_id, headers = resident_with_callers(build)
    _run(app, "2027-03")  # 75 months: January 2021 to March 2027
    return resident_id, headers


def test_payments_are_listed_newest_first_with_their_parts(client, pensioner):
    resident_id, headers = pensioner
    body = client.get(f"/api/v1/residents/{resident_id}/benefits", headers=headers["self"]).get_json()
    assert len(body["items"]) == 24 and body["next_page"] == 2
    newest = body["items"][0]
    assert set(newest) == FIELDS
    assert newest["month"] == "2027-03" and newest["arrears"] is False
    assert (newest["account_pension_fen"], newest["fund_pension_fen"]) == (1000, 0)  # 120,000 ÷ 120
    assert (newest["exit_subsidy_fen"], newest["supplements_fen"], newest["total_fen"]) == (2000, 0, 3000)
    assert newest["booked_at"] == "2027-03-02T10:00:00+08:00"
    assert [item["month"] for item in body["items"][:3]] == ["2027-03", "2027-02", "2027-01"]
    assert all(item["arrears"] for item in body["items"][1:])


def test_payments_filter_by_year_and_page_to_the_end(client, pensioner):
    resident_id, headers = pensioner
    url = f"/api/v1/residents/{resident_id}/benefits"
    year = client.get(f"{url}?year=2022", headers=headers["active"]).get_json()
    assert [item["month"] for item in year["items"]] == [f"2022-{m:02d}" for m in range(12, 0, -1)]
    assert year["next_page"] is None
    pages = [client.get(f"{url}?page={n}", headers=headers["self"]).get_json() for n in (1, 2, 3, 4)]
    assert [len(p["items"]) for p in pages] == [24, 24, 24, 3] and pages[-1]["next_page"] is None
    assert pages[-1]["items"][-1]["month"] == "2021-01"


@pytest.mark.parametrize("who", OUTSIDERS)
def test_others_get_404(client, pensioner, who):
    resident_id, headers = pensioner
    response = client.get(f"/api/v1/residents/{resident_id}/benefits", headers=headers[who])
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("query", ["page=0", "page=x", "year=abc", "year=1999", "extra=1"])
def test_bad_queries_are_422(client, pensioner, query):
    resident_id, headers = pensioner
    response = client.get(f"/api/v1/residents/{resident_id}/benefits?{query}", headers=headers["self"])
    assert response.status_code == 422 and response.get_json()["code"] == "validation_error"


def test_the_schema_documents_every_field_as_required(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schema = spec["components"]["schemas"]["BenefitPayment"]
    assert set(schema["required"]) == FIELDS == set(schema["properties"])


def test_a_never_app_pensioner_is_paid_with_arrears_dies_and_the_heirs_get_the_rest(make_app):
    """Inserted as the registry feed brings her (a residents row with the facts, no WeChat user ever):
    paid from her first month with arrears, dies, payments stop, the overpaid month is recovered, the
    heirs get the balance minus it, her child sees every month, and the ledger sums to zero."""
    app = make_app(APP_NOW="2027-03-02T10:00:00+08:00")
    with app.app_context():
        # 60 on 2021-01-01: 5 years required, paid 2021–2025; 65 on 2025-08-20: due from September 2025.
        mother = factories.resident(name="赵秀英", birth_date=dt.date(1960, 8, 20), receiving_basic_pension=True)
        for year in range(2021, 2026):
            factories.paid_order(mother, year=year, paid_at=_beijing(f"{year}-03-02T10:00:00"))
        child = factories.resident(name="赵小明", birth_date=dt.date(1988, 1, 1))
        factories.link(child, mother)
        child_user = factories.user(child)
        db.session.commit()
        mother_id, public_id, child_user_id = mother.id, mother.public_id, child_user.id
    first = _run(app, "2027-03")
    pension = 5 * 120000 // 120  # 5,000
    assert (first["started"], first["months_paid"], first["arrears_months"]) == (1, 19, 18)  # 2025-09 … 2027-03
    with app.app_context():
        db.session.get(Resident, mother_id).deceased_on = dt.date(2027, 2, 14)  # the feed reports it late
        db.session.commit()
    app.extensions["clock"].freeze(_beijing("2027-04-01T08:00:00"))
    closing = _run(app, "2027-04")
    assert closing["months_paid"] == 0 and closing["accounts_closed"] == 1
    balance_after = 600000 - 19 * pension
    assert closing["recovered_fen"] == 2000  # March's exit subsidy (the fund's money) was paid after the death
    assert closing["inherited_fen"] == balance_after - 2000
    with app.app_context():  # the child signs in now, a month later
        child_headers = factories.auth_header(db.session.get(WeChatUser, child_user_id))
    listed = app.test_client().get(f"/api/v1/residents/{public_id}/benefits", headers=child_headers).get_json()
    assert listed["items"][0]["month"] == "2027-03" and len(listed["items"]) == 19
    assert sum(item["arrears"] for item in listed["items"]) == 18
    account = app.test_client().get(f"/api/v1/residents/{public_id}/account", headers=child_headers).get_json()
    assert account["status"] == "closed" and account["balance_fen"] == 0
    assert account["by_source"]["paid_out_fen"] == 600000  # pensions, the recovery and the inheritance
    with app.app_context():
        entries = db.session.execute(
            sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.amount_fen))
            .where(LedgerEntry.resident_id == mother_id)
            .group_by(LedgerEntry.kind)
        ).all()
    totals = dict(entries)
    assert totals["recovery"] == -2000 and totals["benefit_payout"] == -19 * pension
    assert sum(totals.values()) == 0
    assert _run(app, "2027-04")["accounts_closed"] == 0

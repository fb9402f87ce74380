"""Account lookup (API.md 'Account lookup', POLICY.md R10/R11) and who may see it (R14)."""

import datetime as dt

import pytest

from models import LedgerEntry, db
from tests.support import factories
from tests.support.callers import OUTSIDERS


@pytest.fixture
def people(resident_with_callers):
    """A resident with three paid years, a stranger, and supporters in each link state."""

    def build():
        owner = factories.resident(name="王建国", birth_date=dt.date(1965, 4, 1))
        for year, tier, subsidy in ((2025, 100000, 20000), (2026, 100000, 20000), (2027, 200000, 36000)):
            factories.paid_order(
                owner,
                year=year,
                tier_fen=tier,
                subsidy_fen=subsidy,
                paid_at=dt.datetime(year, 3, 2, 2, tzinfo=dt.timezone.utc),
            )
        db.session.add(
            LedgerEntry(
                resident_id=owner.id,
                year=2026,
                kind="interest",
                amount_fen=1800,
                funder="interest",
                booked_at=dt.datetime(2026, 12, 31, 16, tzinfo=dt.timezone.utc),
            )
        )
        return owner

    return resident_with_callers(build)


def test_account_shows_balance_by_source_years_and_benefit(client, people):
    resident_id, headers = people
    body = client.get(f"/api/v1/residents/{resident_id}/account", headers=headers["self"]).get_json()
    assert body["by_source"] == {
        "personal_fen": 400000,
        "government_subsidy_fen": 76000,
        "collective_subsidy_fen": 0,
        "sponsor_fen": 0,
        "interest_fen": 1800,
        "paid_out_fen": 0,
    }
    assert body["balance_fen"] == 477800
    assert body["paid_years"] == [2025, 2026, 2027] and body["cumulative_years"] == 3
    assert body["required_years"] == 10  # aged 55 on 2021-01-01: min(15, 65 - 55)
    assert body["status"] == "contributing" and body["eligibility"]["eligible"] is False
    assert "under_age" in body["eligibility"]["reasons"]
    assert body["benefit"]["exit_subsidy_fen"] == 2000
    assert body["benefit"]["monthly_fen"] == body["benefit"]["account_pension_fen"] + 2000
    assert body["benefit"]["account_pension_fen"] > 477800 // 120 and body["benefit"]["assumptions"]
    assert body["resident"]["name"] == "王*国" and "*" in body["resident"]["id_number"]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_others_get_404(client, people, who):
    resident_id, headers = people
    for path in ("account", "ledger"):
        response = client.get(f"/api/v1/residents/{resident_id}/{path}", headers=headers[who])
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_unknown_resident_is_the_same_404(client, people):
    _, headers = people
    response = client.get("/api/v1/residents/r_nobody/account", headers=headers["self"])
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_active_supporter_sees_the_account(client, people):
    resident_id, headers = people
    assert client.get(f"/api/v1/residents/{resident_id}/account", headers=headers["active"]).status_code == 200


def test_ledger_is_newest_first_with_order_numbers(client, people):
    resident_id, headers = people
    body = client.get(f"/api/v1/residents/{resident_id}/ledger", headers=headers["self"]).get_json()
    assert [item["year"] for item in body["items"]] == [2027, 2027, 2026, 2026, 2026, 2025, 2025]
    assert body["items"][0]["order_no"] and body["next_page"] is None
    assert {"entry_id", "year", "kind", "amount_fen", "funder", "order_no", "booked_at"} <= body["items"][0].keys()


def test_ledger_filters_by_year_and_pages(app, client, people):
    resident_id, headers = people
    body = client.get(f"/api/v1/residents/{resident_id}/ledger?year=2026", headers=headers["self"]).get_json()
    assert {item["kind"] for item in body["items"]} == {"personal", "government_subsidy", "interest"}
    with app.app_context():
        from models import Resident

        owner = db.session.scalar(db.select(Resident).where(Resident.public_id == resident_id))
        for n in range(20):
            db.session.add(
                LedgerEntry(
                    resident_id=owner.id,
                    year=2024,
                    kind="sponsorship",
                    amount_fen=100 + n,
                    funder="sponsor",
                    booked_at=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc),
                )
            )
        db.session.commit()
    first = client.get(f"/api/v1/residents/{resident_id}/ledger", headers=headers["self"]).get_json()
    second = client.get(f"/api/v1/residents/{resident_id}/ledger?page=2", headers=headers["self"]).get_json()
    assert len(first["items"]) == 20 and first["next_page"] == 2
    assert len(second["items"]) == 7 and second["next_page"] is None
    ids = [item["entry_id"] for item in first["items"] + second["items"]]
    assert len(set(ids)) == 27


@pytest.mark.parametrize("query", ["page=0", "page=x", "year=abc", "extra=1"])
def test_bad_ledger_queries_are_422(client, people, query):
    resident_id, headers = people
    response = client.get(f"/api/v1/residents/{resident_id}/ledger?{query}", headers=headers["self"])
    assert response.status_code == 422 and response.get_json()["code"] == "validation_error"


def test_elder_already_65_in_2021_is_eligible_without_contributions(app, client):
    with app.app_context():
        elder = factories.resident(name="杨桂芝", birth_date=dt.date(1950, 3, 15), receiving_basic_pension=True)
        headers = factories.auth_header(factories.user(elder))
        db.session.commit()
        resident_id = elder.public_id
    body = client.get(f"/api/v1/residents/{resident_id}/account", headers=headers).get_json()
    assert body["required_years"] == 0 and body["eligibility"] == {"eligible": True, "reasons": []}
    assert body["status"] == "eligible" and body["benefit"]["monthly_fen"] == 2000


def test_ledger_amounts_are_positive_and_the_kind_says_which_reduce_the_balance(app, client):
    """API.md: amounts are positive; `benefit_payout`, `recovery` and `inheritance_payout` reduce the balance."""
    with app.app_context():
        owner = factories.resident()
        factories.paid_order(owner, year=2026)
        db.session.add(
            LedgerEntry(
                resident_id=owner.id,
                year=2027,
                kind="benefit_payout",
                amount_fen=-700,
                funder="benefit",
                booked_at=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
            )
        )
        headers = factories.auth_header(factories.user(owner))
        db.session.commit()
        resident_id = owner.public_id
    items = client.get(f"/api/v1/residents/{resident_id}/ledger", headers=headers).get_json()["items"]
    assert all(item["amount_fen"] > 0 for item in items)
    assert {item["kind"]: item["amount_fen"] for item in items}["benefit_payout"] == 700
    account = client.get(f"/api/v1/residents/{resident_id}/account", headers=headers).get_json()
    assert account["balance_fen"] == 100000 + 20000 - 700


@pytest.mark.parametrize("who", [*OUTSIDERS, "no token"])
def test_a_malformed_ledger_query_is_422_before_who_asks_is_known(client, people, who):
    """The page is read with the resident (one statement), so its query is validated first: the 422
    is the same for any resident, known or not, and says nothing about them (docs/decisions.md)."""
    resident_id, headers = people
    for target in (resident_id, "r_nobody"):
        response = client.get(f"/api/v1/residents/{target}/ledger?page=0", headers=headers.get(who, {}))
        assert response.status_code == 422 and response.get_json()["code"] == "validation_error"

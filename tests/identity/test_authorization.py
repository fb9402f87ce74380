"""One authorization mechanism on every resident-scoped route (POLICY.md R14, API.md conventions).

The walk is driven by the URL map: any route with a `<resident_id>` argument, present or added
later, must be marked by `access.resident_scoped` and must answer 404 `not_found` to everyone
who may not act for the resident, without writing anything.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask, url_for

from integrations.sandbox import demo_data
from models import db
from tests.support import factories
from tests.support.callers import OUTSIDERS

# A valid body for each kind of POST, by the last fixed segment of its path; `{"year"}` otherwise.
BODIES = {"contributions": {"year": 2027, "tier_fen": 100000, "kind": "normal"}, "certificates": {"year": 2026}}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def resident_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route taking a `<resident_id>`."""
    return sorted(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        if "resident_id" in rule.arguments
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def is_resident_scoped(view) -> bool:
    while view is not None:
        if getattr(view, "resident_scoped", False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


@pytest.fixture
def parent(resident_with_callers):
    """A real registry resident with a paid 2026, and auth headers for everyone around them."""
    person = demo_data.by_key("ordinary_1966")

    def build():
        owner = factories.resident(
            person["id_number"],
            name=person["name"],
            birth_date=dt.date.fromisoformat(person["birth_date"]),
            region_code="140423",
        )
        factories.paid_order(owner, year=2026, paid_at=dt.datetime(2026, 3, 2, 2, tzinfo=dt.timezone.utc))
        return owner

    return resident_with_callers(build)


def call(app: Flask, client, endpoint: str, method: str, resident_id: str, headers: dict):
    rule = next(r for r in app.url_map.iter_rules(endpoint))
    with app.test_request_context():
        others = dict.fromkeys(rule.arguments - {"resident_id"}, 2027)
        path = url_for(endpoint, resident_id=resident_id, **others)
    if method not in WRITES:
        return client.open(path, method=method, headers=headers)
    last = [part for part in rule.rule.split("/") if part and not part.startswith("<")][-1]
    return client.open(
        path,
        method=method,
        json=BODIES.get(last, {"year": 2027}),
        headers={**headers, "Idempotency-Key": f"walk-{endpoint}-{method}"},
    )


def verdict(response) -> tuple[int, str | None]:
    return response.status_code, (response.get_json(silent=True) or {}).get("code")


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def test_the_walk_covers_the_resident_routes(app):
    rules = {rule for _, _, rule in resident_routes(app)}
    assert {"/api/v1/residents/<resident_id>/account", "/api/v1/residents/<resident_id>/ledger"} <= rules


def test_every_resident_route_is_marked_resident_scoped(app):
    unmarked = {
        endpoint for endpoint, _, _ in resident_routes(app) if not is_resident_scoped(app.view_functions[endpoint])
    }
    assert not unmarked, f"resident routes without access.resident_scoped: {unmarked}"


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_get_404_and_nothing_is_written(app, client, parent, who):
    resident_id, headers = parent
    before = row_counts(app)
    answers = {
        (endpoint, method): call(app, client, endpoint, method, resident_id, headers[who])
        for endpoint, method, _ in resident_routes(app)
    }
    wrong = {route: outcome for route, r in answers.items() if (outcome := verdict(r)) != (404, "not_found")}
    assert not wrong, f"{who} was not refused with 404 not_found: {wrong}"
    assert row_counts(app) == before


def test_unknown_resident_is_404_for_everyone(app, client, parent):
    _, headers = parent
    for endpoint, method, _ in resident_routes(app):
        response = call(app, client, endpoint, method, "r_nobody", headers["self"])
        assert response.status_code == 404 and response.get_json()["code"] == "not_found", (endpoint, method)


@pytest.mark.parametrize("who", ["self", "active"])
def test_the_resident_and_an_active_supporter_pass_on_reads(app, client, parent, who):
    resident_id, headers = parent
    for endpoint, method, _ in resident_routes(app):
        if method not in WRITES:
            response = call(app, client, endpoint, method, resident_id, headers[who])
            assert response.status_code == 200, (endpoint, method, response.get_json())


def test_the_walks_bodies_are_valid_and_writes_would_show(app, client, parent):
    """The control for the outsiders' walk: the resident's own POSTs pass validation and write rows."""
    resident_id, headers = parent
    before = row_counts(app)
    for endpoint, method, _ in resident_routes(app):
        if method in WRITES:
            response = call(app, client, endpoint, method, resident_id, headers["self"])
            assert response.status_code in (200, 201), (endpoint, method, response.get_json())
    assert row_counts(app) != before


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}], ids=["no-token", "basic"])
def test_every_read_refuses_in_the_same_order(app, client, parent, headers):
    """An unknown resident is 404 and a known one 401 without a bearer token, on every resident read."""
    resident_id, _ = parent
    for endpoint, method, _ in resident_routes(app):
        if method not in WRITES:
            unknown = call(app, client, endpoint, method, "r_nobody", headers)
            known = call(app, client, endpoint, method, resident_id, headers)
            assert (verdict(unknown), verdict(known)) == ((404, "not_found"), (401, "unauthorized")), endpoint

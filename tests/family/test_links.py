"""Family links through the API and the sandbox (API.md 'Family', POLICY.md R9, R14)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.sandbox import demo_data
from miniapp_api.family import service as family
from models import FamilyLink, Resident, WeChatUser, db
from policy.id_number import check_digit
from tests.support import factories
from tests.support.miniapp import login, verified
from tests.support.problems import assert_problem

LINKS = "/api/v1/family/links"
PEOPLE = demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED


@pytest.fixture
def client(app):
    """The test client; every response it sees is checked for unmasked ID numbers and names."""
    bodies: list[str] = []

    @app.after_request
    def remember(response):
        bodies.append(response.get_data(as_text=True))
        return response

    yield app.test_client()
    text = "\n".join(bodies)
    leaked = [p["key"] for p in PEOPLE if p["id_number"] in text or p["name"] in text]
    assert not leaked, f"unmasked personal data of {leaked} in a response"


def link(client, headers: dict, key: str, relation: str = "child", **overrides):
    person = demo_data.by_key(key)
    body = {"parent_id_number": person["id_number"], "parent_name": person["name"], "relation": relation}
    return client.post(LINKS, headers=headers, json={**body, **overrides})


def account(client, headers: dict, resident_id: str):
    return client.get(f"/api/v1/residents/{resident_id}/account", headers=headers)


def links_in_db(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.scalars(db.select(FamilyLink).order_by(FamilyLink.id))
        return [(row.public_id, row.status) for row in rows]


def test_registry_listed_child_is_active_at_once_and_sees_the_account(app, client):
    headers, _ = verified(client, "child_1985")
    response = link(client, headers, "parent_1958")
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "active" and body["link_id"].startswith("l_") and body["via_registry"] is True
    assert body["parent"]["name"] == "王*国" and body["parent"]["id_number"].startswith("1401****")
    assert account(client, headers, body["parent"]["resident_id"]).status_code == 200
    assert links_in_db(app) == [(body["link_id"], "active")]


def test_unlisted_caller_waits_for_the_parents_consent(client):
    headers, _ = verified(client, "ordinary_1975")
    body = link(client, headers, "parent_1958", relation="other_supporter").get_json()
    parent_id = body["parent"]["resident_id"]
    assert body["status"] == "pending" and body["via_registry"] is False
    assert_problem(account(client, headers, parent_id), 404, "not_found")
    parent_headers, parent = verified(client, "parent_1958")  # the parent's first login
    assert parent["resident_id"] == parent_id
    approved = client.post(f"{LINKS}/{body['link_id']}/approve", headers=parent_headers)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "active" and approved.get_json()["approved_at"]
    assert account(client, headers, parent_id).status_code == 200


def test_approving_twice_is_harmless(client):
    headers, _ = verified(client, "ordinary_1975")
    link_id = link(client, headers, "parent_1958").get_json()["link_id"]
    parent_headers, _ = verified(client, "parent_1958")
    first = client.post(f"{LINKS}/{link_id}/approve", headers=parent_headers).get_json()
    again = client.post(f"{LINKS}/{link_id}/approve", headers=parent_headers)
    assert again.status_code == 200 and again.get_json()["approved_at"] == first["approved_at"]


@pytest.mark.parametrize("side", ["supporter", "parent"])
def test_removal_by_either_side_ends_access_at_once(app, client, side):
    headers, _ = verified(client, "child_1985")
    body = link(client, headers, "parent_1958").get_json()
    remover = headers if side == "supporter" else verified(client, "parent_1958")[0]
    assert client.delete(f"{LINKS}/{body['link_id']}", headers=remover).status_code == 204
    assert_problem(account(client, headers, body["parent"]["resident_id"]), 404, "not_found")
    assert client.get("/api/v1/me", headers=headers).get_json()["dependents"] == []
    assert client.get(LINKS, headers=headers).get_json()["as_supporter"] == []
    assert_problem(client.delete(f"{LINKS}/{body['link_id']}", headers=remover), 404, "not_found")
    assert links_in_db(app) == [(body["link_id"], "removed")]


def test_relinking_after_removal_creates_a_new_link(app, client):
    headers, _ = verified(client, "child_1985")
    first = link(client, headers, "parent_1958").get_json()["link_id"]
    client.delete(f"{LINKS}/{first}", headers=headers)
    again = link(client, headers, "parent_1958")
    assert again.status_code == 201 and again.get_json()["status"] == "active"
    assert links_in_db(app) == [(first, "removed"), (again.get_json()["link_id"], "active")]


def test_pending_link_can_be_withdrawn_by_the_supporter(app, client):
    headers, _ = verified(client, "ordinary_1975")
    link_id = link(client, headers, "parent_1958").get_json()["link_id"]
    assert client.delete(f"{LINKS}/{link_id}", headers=headers).status_code == 204
    assert links_in_db(app) == [(link_id, "removed")]


def test_only_the_parent_may_approve_and_only_the_two_sides_may_remove(app, client):
    supporter, _ = verified(client, "ordinary_1975")
    link_id = link(client, supporter, "parent_1958").get_json()["link_id"]
    active_child, _ = verified(client, "child_1985")
    assert link(client, active_child, "parent_1958").get_json()["status"] == "active"
    stranger, _ = verified(client, "ordinary_1985")
    unverified = login(client, "ordinary_1966")
    # The active child acts for the parent in everything but the parent's links and identity.
    for headers in (stranger, unverified, supporter, active_child):
        assert_problem(client.post(f"{LINKS}/{link_id}/approve", headers=headers), 404, "not_found")
    for headers in (stranger, unverified, active_child):
        assert_problem(client.delete(f"{LINKS}/{link_id}", headers=headers), 404, "not_found")
    assert_problem(client.post(f"{LINKS}/l_nothing/approve", headers=supporter), 404, "not_found")
    assert links_in_db(app)[0] == (link_id, "pending")


def test_a_supporter_cannot_link_on_the_parents_behalf(client):
    headers, _ = verified(client, "child_1985")
    parent_id = link(client, headers, "parent_1958").get_json()["parent"]["resident_id"]
    response = link(client, headers, "parent_1961", supporter_id=parent_id)
    assert_problem(response, 422, "validation_error")
    assert "supporter_id" in response.get_json()["errors"]


def test_linking_to_yourself_is_422(client):
    headers, _ = verified(client, "child_1985")
    assert_problem(link(client, headers, "child_1985"), 422, "self_link")


@pytest.mark.parametrize("key", ["parent_1958", "ordinary_1966"])
def test_a_second_live_link_for_the_pair_is_409(client, key):
    headers, _ = verified(client, "child_1985")
    assert link(client, headers, key).status_code == 201  # active for parent_1958, pending otherwise
    assert_problem(link(client, headers, key, relation="other_supporter"), 409, "link_exists")


def test_two_simultaneous_identical_requests_make_one_link(app, client, monkeypatch):
    """Both pass the existence check before either inserts: the unique index decides."""
    headers, _ = verified(client, "child_1985")
    assert link(client, headers, "parent_1958").status_code == 201
    monkeypatch.setattr(family, "live_link", lambda *_: None)  # the second request saw no link yet
    assert_problem(link(client, headers, "parent_1958"), 409, "link_exists")
    assert [status for _, status in links_in_db(app)] == ["active"]


def test_racing_requests_on_two_connections_make_one_link(app, client, monkeypatch):
    """Two requests at once, both past the existence check before either inserts."""
    headers, _ = verified(client, "child_1985")
    verified(client, "parent_1958")  # the parent row exists, as it usually does
    barrier, seen, original = threading.Barrier(2, timeout=10), threading.local(), family.live_link

    def live_link_in_step(*args):
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait()
        return original(*args)

    monkeypatch.setattr(family, "live_link", live_link_in_step)
    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: link(app.test_client(), headers, "parent_1958").status_code, range(2)))
    assert statuses == [201, 409]
    assert [status for _, status in links_in_db(app)] == ["active"]


def test_wrong_name_is_identity_mismatch(client):
    headers, _ = verified(client, "child_1985")
    assert_problem(link(client, headers, "parent_1958", parent_name="王建军"), 403, "identity_mismatch")


def _bad_check_digit(number: str) -> str:
    return number[:17] + ("0" if check_digit(number[:17]) != "0" else "1")


PARENT_NUMBER = demo_data.by_key("parent_1958")["id_number"]


@pytest.mark.parametrize(
    "number",
    [
        PARENT_NUMBER[:17],
        PARENT_NUMBER + "7",
        _bad_check_digit(PARENT_NUMBER),
        "99" + PARENT_NUMBER[2:],
        PARENT_NUMBER[:10] + "0230" + PARENT_NUMBER[14:],
        PARENT_NUMBER[:17] + "A",
    ],
    ids=["short", "long", "check_digit", "region", "date", "letter"],
)
def test_invalid_parent_id_numbers_are_422(client, number):
    headers, _ = verified(client, "child_1985")
    response = link(client, headers, "parent_1958", parent_id_number=number)
    assert_problem(response, 422, "invalid_id_number")
    assert "parent_id_number" in response.get_json()["errors"]


def test_unenrolled_parent_is_404_not_enrolled(client):
    headers, _ = verified(client, "child_1985")
    assert_problem(link(client, headers, "unenrolled_1992"), 404, "not_enrolled")


def test_unverified_users_cannot_link(app, client):
    assert_problem(link(client, login(client, "child_1985"), "parent_1958"), 403, "not_verified")
    assert links_in_db(app) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"parent_id_number": PARENT_NUMBER, "parent_name": "王建国"},
        {"parent_id_number": PARENT_NUMBER, "parent_name": "王建国", "relation": "friend"},
    ],
)
def test_incomplete_requests_are_422(client, body):
    headers, _ = verified(client, "child_1985")
    assert_problem(client.post(LINKS, headers=headers, json=body), 422, "validation_error")


def test_an_eleventh_live_link_is_409_too_many_links(app, client):
    headers, me = verified(client, "child_1985")
    with app.app_context():
        supporter = db.session.scalar(db.select(Resident).where(Resident.public_id == me["resident_id"]))
        for n in range(10):
            factories.link(supporter, factories.resident(name="李桂英"), status="active" if n % 2 else "pending")
        factories.link(supporter, factories.resident(name="李桂英"), status="removed")  # history does not count
        db.session.commit()
    response = link(client, headers, "parent_1958")
    assert assert_problem(response, 409, "too_many_links")["max_links"] == 10  # detail: the table's sentence
    first = client.get(LINKS, headers=headers).get_json()["as_supporter"][0]["link_id"]
    client.delete(f"{LINKS}/{first}", headers=headers)
    assert link(client, headers, "parent_1958").status_code == 201


def test_me_lists_active_links_as_dependents(client):
    headers, _ = verified(client, "child_1988")
    active = link(client, headers, "parent_1961").get_json()["parent"]
    assert link(client, headers, "parent_1958").get_json()["status"] == "pending"
    assert client.get("/api/v1/me", headers=headers).get_json()["dependents"] == [active]


def _pay_as(app, parent_id: str, payer_id: str, year: int) -> None:
    """A paid order for the parent, paid by the WeChat user bound to `payer_id`."""
    with app.app_context():
        parent, payer = (
            db.session.scalar(db.select(Resident).where(Resident.public_id == rid)) for rid in (parent_id, payer_id)
        )
        user = db.session.scalar(db.select(WeChatUser).where(WeChatUser.resident_id == payer.id))
        order = factories.paid_order(
            parent, year=year, payer="supporter", paid_at=dt.datetime(year, 3, 2, 2, tzinfo=dt.timezone.utc)
        )
        order.payer_user_id = user.id
        db.session.commit()


def test_links_list_both_sides_with_the_years_each_supporter_paid(app, client):
    son, son_resident = verified(client, "child_1988")
    other, other_resident = verified(client, "ordinary_1975")
    parent_id = link(client, son, "parent_1961").get_json()["parent"]["resident_id"]
    link(client, son, "parent_1963")
    pending = link(client, other, "parent_1961", relation="other_supporter").get_json()["link_id"]
    removed = link(client, other, "parent_1963").get_json()["link_id"]
    client.delete(f"{LINKS}/{removed}", headers=other)
    for year in (2027, 2025):
        _pay_as(app, parent_id, son_resident["resident_id"], year)
    parent, _ = verified(client, "parent_1961")

    mine = client.get(LINKS, headers=parent).get_json()
    assert mine["as_supporter"] == []
    by_supporter = {item["supporter"]["resident_id"]: item for item in mine["as_parent"]}
    assert by_supporter.keys() == {son_resident["resident_id"], other_resident["resident_id"]}
    son_link, other_link = by_supporter[son_resident["resident_id"]], by_supporter[other_resident["resident_id"]]
    assert (son_link["status"], son_link["paid_years"], son_link["relation"]) == ("active", [2025, 2027], "child")
    assert (other_link["status"], other_link["paid_years"], other_link["link_id"]) == ("pending", [], pending)
    assert son_link["supporter"] == son_resident and son_link["parent"]["resident_id"] == parent_id
    assert son_link["created_at"].endswith("+08:00") and other_link["approved_at"] is None

    sons = client.get(LINKS, headers=son).get_json()
    assert [item["status"] for item in sons["as_supporter"]] == ["active", "active"] and sons["as_parent"] == []
    assert [item["link_id"] for item in client.get(LINKS, headers=other).get_json()["as_supporter"]] == [pending]


def test_unverified_users_have_no_links(client):
    assert client.get(LINKS, headers=login(client, "child_1985")).get_json() == {"as_supporter": [], "as_parent": []}


def test_family_routes_need_a_token(client):
    for method, path in (("post", LINKS), ("get", LINKS), ("post", f"{LINKS}/l_x/approve"), ("delete", f"{LINKS}/l_x")):
        assert_problem(getattr(client, method)(path, json={}), 401, "unauthorized")


# --- Removed by the parent: kept out until the parent approves anew (API.md, DELETE /family/links) ---


def removals_in_db(app) -> list[tuple[str, str | None]]:
    """(status, removed_by) of every link, oldest first."""
    with app.app_context():
        rows = db.session.scalars(db.select(FamilyLink).order_by(FamilyLink.id))
        return [(row.status, row.removed_by) for row in rows]


def remove(client, headers: dict, link_id: str) -> None:
    assert client.delete(f"{LINKS}/{link_id}", headers=headers).status_code == 204


@pytest.mark.parametrize("remover", [None, "supporter", "parent"], ids=["never_removed", "by_supporter", "by_parent"])
def test_a_registry_listed_supporter_relinks_at_once_unless_the_parent_removed_them(app, client, remover):
    child, _ = verified(client, "child_1985")
    parent, _ = verified(client, "parent_1958")
    first = link(client, child, "parent_1958").get_json()
    assert (first["status"], first["via_registry"]) == ("active", True)
    if remover is None:
        assert removals_in_db(app) == [("active", None)]
        return
    remove(client, child if remover == "supporter" else parent, first["link_id"])
    again = link(client, child, "parent_1958")
    assert again.status_code == 201
    body = again.get_json()
    parent_id = body["parent"]["resident_id"]
    if remover == "supporter":  # as today: the registry's word suffices again
        assert (body["status"], body["via_registry"]) == ("active", True)
        assert account(client, child, parent_id).status_code == 200
        assert removals_in_db(app) == [("removed", "supporter"), ("active", None)]
        return
    # Removed by the parent: pending although the registry lists the child, until the parent approves.
    assert (body["status"], body["via_registry"], body["approved_at"]) == ("pending", False, None)
    assert_problem(account(client, child, parent_id), 404, "not_found")
    assert client.get("/api/v1/me", headers=child).get_json()["dependents"] == []
    assert [item["status"] for item in client.get(LINKS, headers=parent).get_json()["as_parent"]] == ["pending"]
    assert removals_in_db(app) == [("removed", "parent"), ("pending", None)]
    approved = client.post(f"{LINKS}/{body['link_id']}/approve", headers=parent)
    assert approved.status_code == 200 and approved.get_json()["status"] == "active"
    assert account(client, child, parent_id).status_code == 200


def test_withdrawing_and_asking_again_does_not_get_around_the_parent(app, client):
    child, _ = verified(client, "child_1985")
    parent, _ = verified(client, "parent_1958")
    remove(client, parent, link(client, child, "parent_1958").get_json()["link_id"])
    for remover in (child, parent, child):  # the child withdraws, the parent refuses, the child withdraws
        request = link(client, child, "parent_1958").get_json()
        assert (request["status"], request["via_registry"]) == ("pending", False)
        remove(client, remover, request["link_id"])
    request = link(client, child, "parent_1958").get_json()
    assert request["status"] == "pending"
    assert [side for _, side in removals_in_db(app)] == ["parent", "supporter", "parent", "supporter", None]
    client.post(f"{LINKS}/{request['link_id']}/approve", headers=parent)
    # The parent approved: the bar is lifted, so the child's own removal and return work as before ...
    remove(client, child, request["link_id"])
    back = link(client, child, "parent_1958").get_json()
    assert (back["status"], back["via_registry"]) == ("active", True)
    # ... until the parent removes them again.
    remove(client, parent, back["link_id"])
    assert link(client, child, "parent_1958").get_json()["status"] == "pending"


def test_the_bar_is_per_pair(client):
    """The parent removing one supporter keeps only that one out, and only from that parent."""
    son, _ = verified(client, "child_1988")
    parent_1961, _ = verified(client, "parent_1961")
    removed = link(client, son, "parent_1961").get_json()["link_id"]
    assert link(client, son, "parent_1963").get_json()["status"] == "active"
    remove(client, parent_1961, removed)
    assert link(client, son, "parent_1961").get_json()["status"] == "pending"
    other = link(client, verified(client, "child_1985")[0], "parent_1958").get_json()
    assert other["status"] == "active"


def test_an_unlisted_supporter_the_parent_removed_waits_for_consent_as_before(app, client):
    supporter, _ = verified(client, "ordinary_1975")
    parent, _ = verified(client, "parent_1958")
    first = link(client, supporter, "parent_1958").get_json()["link_id"]
    client.post(f"{LINKS}/{first}/approve", headers=parent)
    remove(client, parent, first)
    assert link(client, supporter, "parent_1958").get_json()["status"] == "pending"
    assert removals_in_db(app) == [("removed", "parent"), ("pending", None)]


# --- Rate limits: each attempt is an identity check ----------------------------------------------


def attempt_from(client, headers: dict, address: str):
    """A link attempt with the wrong name (403 identity_mismatch: an identity check all the same)."""
    person = demo_data.by_key("parent_1958")
    body = {"parent_id_number": person["id_number"], "parent_name": "王建军", "relation": "child"}
    return client.post(LINKS, headers=headers, json=body, environ_base={"REMOTE_ADDR": address})


def test_link_attempts_are_limited_per_client_address_as_well_as_per_user(client):
    users = [verified(client, key)[0] for key in ("child_1985", "child_1988", "ordinary_1975", "ordinary_1985")]
    statuses = [attempt_from(client, headers, "192.0.2.1").status_code for headers in users[:3] for _ in range(10)]
    assert statuses == [403] * family.ATTEMPTS_PER_ADDRESS  # 30 from one address, 10 per user
    body = assert_problem(attempt_from(client, users[3], "192.0.2.1"), 429, "rate_limited")  # a fresh user
    assert body["detail"]
    assert 1 <= int(attempt_from(client, users[3], "192.0.2.1").headers["Retry-After"]) <= 600
    assert attempt_from(client, users[3], "192.0.2.2").status_code == 403  # another address is served
    assert_problem(attempt_from(client, users[0], "192.0.2.3"), 429, "rate_limited")  # the per-user limit stays

"""The registry change feed (INTEGRATIONS.md §3a): AgencyClient.changes over real HTTP against the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from integrations.agency import AgencyClient
from integrations.errors import UpstreamError
from integrations.sandbox import demo_data
from tests.support.registry import add_change, new_record, own_agency
from tests.support.upstream import SHORT_TIMEOUT

DEMO = demo_data.DEMO_RESIDENTS
WANG = demo_data.by_key("parent_1958")


@pytest.fixture
def agency_url():
    with own_agency() as url:
        yield url


def all_changes(client: AgencyClient, limit: int, after: str | None = None) -> list:
    found = []
    while True:
        page = client.changes(after, limit)
        found.extend(page.changes)
        if not page.more:
            return found
        after = page.cursor


def test_a_full_load_lists_every_demo_resident_once_in_order(agency_url):
    changes = all_changes(AgencyClient(agency_url, timeout=SHORT_TIMEOUT), limit=4)
    assert [c.id_number for c in changes] == [p["id_number"] for p in DEMO]
    assert [c.seq for c in changes] == sorted({c.seq for c in changes})
    wang = next(c for c in changes if c.id_number == WANG["id_number"])
    assert wang.record is not None and wang.record.birth_date == dt.date(1958, 9, 12)


def test_the_same_cursor_returns_the_same_changes_and_later_ones_follow(agency_url):
    client = AgencyClient(agency_url, timeout=SHORT_TIMEOUT)
    first = client.changes(None, 3)
    assert (len(first.changes), first.more) == (3, True)
    second, again = client.changes(first.cursor, 3), client.changes(first.cursor, 3)
    assert second == again and second.changes[0].seq > first.changes[-1].seq
    tail = client.changes(str(len(DEMO)), 10)
    assert (tail.changes, tail.more, tail.cursor) == ((), False, str(len(DEMO)))
    seq = add_change(agency_url, WANG["id_number"], update={"deceased_on": "2027-02-20"})
    grown = client.changes(tail.cursor, 10)
    assert [(c.seq, c.record.deceased_on) for c in grown.changes] == [(seq, dt.date(2027, 2, 20))]
    assert client.changes(first.cursor, 3) == second  # what was read before does not change


def test_the_default_page_is_at_most_500_and_limit_is_1_to_1000(agency_url):
    client = AgencyClient(agency_url, timeout=SHORT_TIMEOUT)
    assert len(client.changes().changes) == len(DEMO)
    for limit in (0, 1001):
        with pytest.raises(ValueError):
            client.changes(None, limit)
        assert requests.get(f"{agency_url}/v1/changes", params={"limit": limit}, timeout=5).status_code == 400
    assert requests.get(f"{agency_url}/v1/changes", params={"after": "x"}, timeout=5).status_code == 400


def test_new_residents_departures_and_changes_reach_the_feed_and_the_lookup(agency_url):
    client = AgencyClient(agency_url, timeout=SHORT_TIMEOUT)
    newcomer = new_record("1950-01-01", 11, name="新居民")
    add_change(agency_url, newcomer["id_number"], record=newcomer)
    add_change(agency_url, WANG["id_number"], record=None)
    dibao = demo_data.by_key("ordinary_1975")["id_number"]
    add_change(agency_url, dibao, update={"categories": ["dibao"]})
    changes = client.changes(str(len(DEMO)), 10).changes
    assert [(c.id_number, c.record is None) for c in changes] == [
        (newcomer["id_number"], False), (WANG["id_number"], True), (dibao, False)
    ]  # fmt: skip
    assert client.resident(newcomer["id_number"]).name == "新居民"
    assert client.resident(WANG["id_number"]) is None
    assert client.resident(dibao).categories == frozenset({"dibao"})


def test_a_malformed_feed_page_is_agency_unavailable(serve_fake):
    url = serve_fake(lambda: {"changes": [{"seq": 1, "id_number": "bad", "record": None}], "more": False})
    with pytest.raises(UpstreamError) as caught:
        AgencyClient(url, timeout=SHORT_TIMEOUT).changes()
    assert (caught.value.code, caught.value.status) == ("agency_unavailable", 503)


def test_the_sandbox_refuses_a_malformed_change(agency_url):
    response = requests.post(
        f"{agency_url}/sandbox/changes", json={"id_number": WANG["id_number"], "record": {"name": "x"}}, timeout=5
    )
    assert response.status_code == 400

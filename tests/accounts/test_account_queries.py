"""Account lookup runs a fixed, small number of SQL statements however long the ledger grows."""

from __future__ import annotations

import datetime as dt

import pytest

from models import LedgerEntry, db
from tests.support import database, factories
from tests.support.database import counted

MAX_STATEMENTS = 8
PATHS = ("account", "ledger", "ledger?page=2", "ledger?year=2027")


def _resident_with_years(count: int) -> tuple[str, dict]:
    """A resident who paid every year up to 2027 (personal + subsidy entries each year) and an interest
    entry a year; their resident_id and auth header."""
    owner = factories.resident(birth_date=dt.date(1970, 5, 1))
    for year in range(2028 - count, 2028):
        factories.paid_order(owner, year=year, paid_at=dt.datetime(year, 3, 1, 2, tzinfo=dt.timezone.utc))
        db.session.add(
            LedgerEntry(
                resident_id=owner.id,
                year=year,
                kind="interest",
                amount_fen=1500,
                funder="interest",
                booked_at=dt.datetime(year, 12, 31, 16, tzinfo=dt.timezone.utc),
            )
        )
    return owner.public_id, factories.auth_header(factories.user(owner))


@pytest.fixture
def residents(app):
    with app.app_context():
        made = {years: _resident_with_years(years) for years in (6, 30)}
        db.session.commit()
        return made


def _statements(app, client, resident_id: str, headers: dict, path: str) -> list[str]:
    with counted(app) as statements:
        response = client.get(f"/api/v1/residents/{resident_id}/{path}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return statements


@pytest.mark.parametrize("path", PATHS)
def test_statement_count_does_not_grow_with_the_ledger(app, client, residents, path):
    with app.app_context():  # the engine's first connection sets up the dialect: not the request's doing
        db.session.execute(db.select(1))
    short, long = (_statements(app, client, *residents[years], path) for years in (6, 30))
    assert len(short) == len(long), (short, long)
    assert len(long) <= MAX_STATEMENTS, long
    # The resident comes with the caller's user row; the account's orders and sums, or the ledger's
    # page, come in that same statement.
    assert len(long) == 1, long


def test_the_long_ledger_is_really_read(client, residents):
    resident_id, headers = residents[30]
    account = client.get(f"/api/v1/residents/{resident_id}/account", headers=headers).get_json()
    assert account["paid_years"] == list(range(1998, 2028))
    assert account["by_source"]["interest_fen"] == 30 * 1500
    pages = [
        client.get(f"/api/v1/residents/{resident_id}/ledger?page={page}", headers=headers).get_json()
        for page in (1, 2, 3, 4, 5)
    ]
    assert sum(len(page["items"]) for page in pages) == 90 and pages[-1]["next_page"] is None
    entries = [(item["booked_at"], item["entry_id"]) for page in pages for item in page["items"]]
    assert entries == sorted(entries, reverse=True) and len(set(entries)) == 90  # newest first, across pages


@pytest.mark.parametrize("path", PATHS)
def test_lookups_run_outside_a_transaction(app, client, residents, path):
    """No BEGIN and ROLLBACK round trips: every statement of the read-only request runs in autocommit."""
    modes: list[bool] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        modes.append(database.autocommit(conn))

    resident_id, headers = residents[6]
    with database.listening(app, record):
        assert client.get(f"/api/v1/residents/{resident_id}/{path}", headers=headers).status_code == 200
    assert modes and all(modes), modes


def test_a_ledger_page_is_sorted_newest_first_whatever_order_the_union_gave():
    """The page's rows come from a UNION ALL, in no order SQL promises: `ledger_page` sorts them
    (booked_at, then entry id, both descending) and keeps one page of them."""
    import random
    from collections import namedtuple

    from miniapp_api.accounts import service

    Entry = namedtuple("Entry", "booked_at id")
    day = dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc)
    rows = [Entry(day + dt.timedelta(days=n // 3), n) for n in range(service.PAGE_SIZE + 1)]
    shuffled = random.Random(5).sample(rows, len(rows))
    page = service.ledger_page(shuffled, 2)
    assert page.items == sorted(rows, reverse=True)[: service.PAGE_SIZE] and page.next_page == 3


@pytest.mark.parametrize("path", ["ledger", "ledger?year=2027"])
def test_a_ledger_page_reads_nothing_of_the_resident_but_their_id(app, client, residents, path):
    """The page shows entries only: its statement selects none of the resident's personal columns
    (name, ID number, birth date, ...), and the fewer columns cost less to read."""
    from models import Resident

    resident_id, headers = residents[6]
    [statement] = _statements(app, client, resident_id, headers, path)
    personal = [c.name for c in Resident.__table__.c if f"residents.{c.name} AS " in statement]
    assert personal == ["id"], personal

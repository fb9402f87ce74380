"""core/readonly.py: a read-only request runs on one autocommit connection, and opens no ORM session
unless its view uses one."""

from __future__ import annotations

import datetime as dt
import sqlite3

import psycopg
import pytest
from sqlalchemy import event

from miniapp_api.core import readonly
from models import Resident, db
from models.base import Session
from tests.support import database, factories


@pytest.fixture
def owner(app):
    with app.app_context():
        resident = factories.resident()
        factories.paid_order(resident, year=2026, paid_at=dt.datetime(2026, 3, 1, 2, tzinfo=dt.timezone.utc))
        headers = factories.auth_header(factories.user(resident))
        db.session.commit()
        return resident.public_id, headers


@pytest.fixture
def watched(app):
    """What a request did with the pools and the ORM session: checkouts and checkins of the read-only
    bind's pool (`checkout`, `checkin`) and of the app's own (`app_checkout`), session begins, and
    whether each statement ran in autocommit."""
    seen: dict[str, list] = {"checkout": [], "checkin": [], "app_checkout": [], "session": [], "autocommit": []}
    with app.app_context():
        engine, read_only = db.engine, db.engines[readonly.BIND]
    listeners = [
        (read_only.pool, "checkout", lambda *args: seen["checkout"].append(1)),
        (read_only.pool, "checkin", lambda *args: seen["checkin"].append(1)),
        (engine.pool, "checkout", lambda *args: seen["app_checkout"].append(1)),
        (Session, "after_begin", lambda *args: seen["session"].append(1)),
        *(
            (each, "before_cursor_execute", lambda conn, *a: seen["autocommit"].append(database.autocommit(conn)))
            for each in (engine, read_only)
        ),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    yield seen
    for target, name, listener in listeners:
        event.remove(target, name, listener)


@pytest.mark.parametrize("path", ["account", "ledger"])
def test_a_lookup_opens_no_session_and_gives_its_connection_back(client, owner, watched, path):
    resident_id, headers = owner
    assert client.get(f"/api/v1/residents/{resident_id}/{path}", headers=headers).status_code == 200
    assert watched["session"] == [] and watched["autocommit"] == [True]
    assert len(watched["checkout"]) == len(watched["checkin"]) == 1 and watched["app_checkout"] == []


def test_a_verification_opens_no_session_and_gives_its_connection_back(client, owner, watched):
    """The public check of a certificate's QR code: one Core statement on the request's connection."""
    resident_id, headers = owner
    response = client.post(f"/api/v1/residents/{resident_id}/certificates", json={"year": 2026}, headers=headers)
    token = response.get_json()["verify_url"].rsplit("/", 1)[1]
    for listened in watched.values():
        listened.clear()
    response = client.get(f"/api/v1/verify/{token}")
    assert response.status_code == 200 and response.get_json()["valid"] is True
    assert watched["session"] == [] and watched["autocommit"] == [True]
    assert len(watched["checkout"]) == len(watched["checkin"]) == 1


def test_a_read_only_views_session_runs_on_the_same_autocommit_connection(client, owner, watched):
    """The benefits page reads the resident (stacked, Core) and then its page through the session."""
    resident_id, headers = owner
    assert client.get(f"/api/v1/residents/{resident_id}/benefits", headers=headers).status_code == 200
    assert watched["session"] == [1] and set(watched["autocommit"]) == {True}
    assert len(watched["autocommit"]) == 2
    assert len(watched["checkout"]) == len(watched["checkin"]) == 1


def test_read_only_connections_go_back_with_no_transaction_open(app, client, owner):
    """Their pool does not roll them back on return (an autocommit connection has nothing to end), so
    the driver must say none is open, after a session's reads too (the benefits page); and a sync
    worker's lookups keep one connection (docs/scaling.md counts it)."""
    resident_id, headers = owner
    for path in ("account", "ledger", "benefits"):
        assert client.get(f"/api/v1/residents/{resident_id}/{path}", headers=headers).status_code == 200
    with app.app_context():
        read_only = db.engines[readonly.BIND]
        assert read_only.pool.checkedin() == 1  # type: ignore[attr-defined]
        with read_only.connect() as connection:
            raw = connection.connection.dbapi_connection
            if isinstance(raw, sqlite3.Connection):
                assert not raw.in_transaction
            else:
                assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_read_from_itself(keys, url):
    """A second engine would open a new, empty in-memory database: there the read-only views read on
    the app's engine, and see what it wrote."""
    from miniapp_api import create_app

    app = create_app({"APP_ENV": "testing", "DATABASE_URL": url, **keys})
    with app.test_request_context():
        assert set(db.engines) == {None}
        db.session.execute(db.text("CREATE TABLE seen (x INTEGER)"))
        db.session.execute(db.text("INSERT INTO seen VALUES (7)"))
        db.session.commit()
        assert readonly.connection().execute(db.text("SELECT x FROM seen")).scalar() == 7


def test_a_view_that_writes_gets_its_own_transaction(client, owner, watched):
    """Outside read-only views the session is the app's as ever: a transaction of its own."""
    resident_id, headers = owner
    response = client.post(f"/api/v1/residents/{resident_id}/certificates", json={"year": 2026}, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert watched["session"] and True not in watched["autocommit"]


def test_a_read_only_request_leaves_nothing_bound_in_an_app_context_it_shares(app, client, owner, watched):
    """A request inside an app context already pushed (a command, a test) shares its `g`: once the
    request ends, the session there is the app's own again, in a transaction, on a fresh checkout."""
    resident_id, headers = owner
    with app.app_context():
        assert client.get(f"/api/v1/residents/{resident_id}/account", headers=headers).status_code == 200
        assert len(watched["checkout"]) == len(watched["checkin"]) == 1
        db.session.execute(db.select(1))
        assert watched["autocommit"][-1] is False and watched["app_checkout"] == [1]
        db.session.rollback()


def test_work_begun_before_a_read_only_request_in_a_shared_app_context_is_kept(app, client, owner):
    """The request neither binds nor ends a session that was in a transaction when it came."""
    resident_id, headers = owner
    with app.app_context():
        pending = factories.resident(name="赵建华")
        db.session.flush()
        assert client.get(f"/api/v1/residents/{resident_id}/ledger", headers=headers).status_code == 200
        db.session.commit()
        kept = db.session.scalar(db.select(Resident.name).where(Resident.id == pending.id))
    assert kept == "赵建华"


def test_the_pooled_connection_is_transactional_again_after_a_lookup(app, client, owner):
    """What a later request on the same pooled connection writes and rolls back is gone."""
    resident_id, headers = owner
    assert client.get(f"/api/v1/residents/{resident_id}/account", headers=headers).status_code == 200
    with app.app_context():
        before = db.session.scalar(db.select(db.func.count()).select_from(Resident))
        factories.resident(name="钱秀英")
        db.session.flush()
        db.session.rollback()
        after = db.session.scalar(db.select(db.func.count()).select_from(Resident))
    assert after == before

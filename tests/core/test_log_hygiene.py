"""No secret, token, session_key, ID number or name in any log line, whatever fails (INTEGRATIONS.md §1).

Each test forces one failure path (WeChat down, the database locked, the agency timing out) with the
app's own JSON logging on, then scans everything the process wrote for the test's secrets and the
person's data in full. Each also checks that the failure did log, so a silent path cannot pass.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from contextlib import contextmanager

import psycopg

from integrations.sandbox import demo_data
from models import db
from tests.support import factories
from tests.support.live_server import serve
from tests.support.upstream import closed_port_url, fake_app

PERSON = demo_data.by_key("ordinary_1966")
WECHAT_SECRET = "wx-secret-must-not-leak-4c1d9e"


def _log_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]


def _assert_clean(lines: list[str], *secrets: str) -> None:
    text = "\n".join(lines)
    for secret in (*secrets, PERSON["id_number"], PERSON["name"]):
        assert secret not in text, f"{secret[:6]}… leaked into the log:\n{text[:3000]}"


def _owner(app) -> tuple[str, dict]:
    """The demo person as a bound resident, and their auth header (whose token must not leak either)."""
    with app.app_context():
        owner = factories.resident(PERSON["id_number"], name=PERSON["name"], region_code=PERSON["region_code"],
                                   birth_date=dt.date.fromisoformat(PERSON["birth_date"]))  # fmt: skip
        headers = factories.auth_header(factories.user(bound_to=owner))
        db.session.commit()
        return owner.public_id, headers


def test_wechat_down(make_app, capsys):
    app = make_app(WECHAT_API_BASE=closed_port_url() + "/wechat", WECHAT_SECRET=WECHAT_SECRET)
    capsys.readouterr()
    response = app.test_client().post("/api/v1/auth/login", json={"code": "test:ordinary_1966:1"})
    assert response.status_code == 503 and response.get_json()["code"] == "wechat_unavailable"
    lines = _log_lines(capsys)
    assert any("wechat_unavailable" in line for line in lines), lines
    _assert_clean(lines, WECHAT_SECRET)


@contextmanager
def _locked(database_url: str):
    """Another connection holding the residents table: SQLite's file lock, PostgreSQL's table lock."""
    if database_url.startswith("sqlite"):
        locker = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        locker.execute("BEGIN EXCLUSIVE")
    else:
        locker = psycopg.connect(database_url)
        locker.execute("LOCK TABLE residents IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        locker.rollback()
        locker.close()


# Give up on a lock after 0.2 s (the default waits are 5 s on SQLite, forever on PostgreSQL).
LOCK_WAIT = {"sqlite": {"timeout": 0.2}, "postgresql": {"options": "-c lock_timeout=200"}}


def test_database_locked(make_app, database_url, capsys):
    connect_args = LOCK_WAIT["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"hide_parameters": True, "connect_args": connect_args})
    resident_id, headers = _owner(app)
    capsys.readouterr()
    with _locked(database_url):
        response = app.test_client().get(f"/api/v1/residents/{resident_id}/contribution-options", headers=headers)
    assert response.status_code == 500 and response.get_json()["code"] == "internal_error"
    lines = _log_lines(capsys)
    assert any("OperationalError" in line and "lock" in line for line in lines), lines
    _assert_clean(lines, headers["Authorization"].split()[1], PERSON["birth_date"])


def test_agency_timing_out(make_app, capsys):
    def slow():
        time.sleep(0.5)
        return {"id_number": PERSON["id_number"]}

    with serve(fake_app(slow)) as agency:
        app = make_app(AGENCY_API_BASE=agency)
        app.extensions["clients"]["agency"].timeout = (1, 0.2)
        resident_id, headers = _owner(app)
        capsys.readouterr()
        response = app.test_client().get(f"/api/v1/residents/{resident_id}/contribution-options", headers=headers)
        time.sleep(0.6)  # the fake's last answers finish (and log) while this test still captures
    assert response.status_code == 503 and response.get_json()["code"] == "agency_unavailable"
    lines = _log_lines(capsys)
    assert any("agency_unavailable" in line for line in lines), lines
    assert all(json.loads(line) for line in lines)
    _assert_clean(lines, headers["Authorization"].split()[1])

"""The agency's change feed in tests: a sandbox of its own per test (the feed is state), changes added
to it over HTTP, and `registry sync` run through the CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests
import sqlalchemy as sa
from flask import Request, request

from integrations.sandbox.app import create_sandbox_app
from models import Resident, db
from policy.id_number import make
from tests.support.constants import DEFAULT_NOW
from tests.support.live_server import serve


@pytest.fixture
def agency_url() -> Iterator[str]:
    """A test's own sandbox agency (import this fixture into the test module)."""
    with own_agency() as url:
        yield url


@contextmanager
def own_agency(on_feed_request: Callable[[Request], None] | None = None) -> Iterator[str]:
    """A fresh sandbox (its feed holds only the demo residents), serving; yields its agency base URL.
    `on_feed_request` sees each request for the change feed before it is answered."""
    agency = create_sandbox_app({"SANDBOX_TODAY": DEFAULT_NOW[:10]})
    if on_feed_request is not None:
        agency.before_request(lambda: on_feed_request(request) if request.path.endswith("/v1/changes") else None)
    with serve(agency) as url:
        yield f"{url}/agency"


def add_change(agency_url: str, id_number: str, **change) -> int:
    """Add a change to the sandbox feed: `record={...}` / `record=None` / `update={...}`; returns its seq."""
    response = requests.post(f"{agency_url}/sandbox/changes", json={"id_number": id_number, **change}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["seq"]


def command(app, *args: str, exit_code: int = 0) -> dict:
    """`flask ARGS`; the parsed summary line (the command's last line of output)."""
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == exit_code, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def sync(app, *args: str) -> dict:
    """`flask registry sync ARGS`; the parsed summary line."""
    return command(app, "registry", "sync", *args)


def new_record(born: str, sequence: int, region: str = "140105", **fields) -> dict:
    """A §3 record of someone the demo does not know (a valid ID number from birth date and sequence)."""
    return {
        "id_number": make(region, dt.date.fromisoformat(born), sequence),
        "name": "新参保人",
        "gender": "M" if sequence % 2 else "F",
        "birth_date": born,
        "region_code": region,
        "region_name": "太原市小店区",
        "basic_pension": {"paid_years": [2026, 2027], "receiving": False},
        "categories": [],
        "supporter_capable": True,
        "supporters": [],
        "registration_updated_on": None,
        "deceased_on": None,
        **fields,
    }


FACTS = (
    Resident.id_number_index, Resident.public_id, Resident.name, Resident.birth_date, Resident.region_code,
    Resident.categories, Resident.receiving_basic_pension, Resident.basic_pension_paid_years,
    Resident.registration_updated_on, Resident.deceased_on, Resident.enrolled, Resident.registry_seq,
)  # fmt: skip


def state(app) -> list[tuple]:
    """The registry facts of every resident row, in a stable order (to compare end states)."""
    with app.app_context():
        return [tuple(row) for row in db.session.execute(sa.select(*FACTS).order_by(Resident.id_number_index))]

"""Fixtures: an app per test on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set.

The schema is built once per backend by the Alembic migrations (so every run tests them); each
test then gets a copy of the migrated SQLite file, or an emptied PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from integrations.sandbox.app import create_sandbox_app
from miniapp_api import create_app
from miniapp_api.core import config as configuration
from miniapp_api.core import devkeys
from tests.support import payments, workers
from tests.support.callers import caller_headers
from tests.support.constants import DEFAULT_NOW, DEMO_POLICY, SANDBOX_TAX_KEY
from tests.support.live_server import serve

GIVEN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_DATABASE_URL = workers.postgres_url(GIVEN_DATABASE_URL) if GIVEN_DATABASE_URL else None  # this worker's
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict:
    """Secrets generated once for the whole run, as development would."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: make(folder) for name, make in devkeys.GENERATORS.items()}


@pytest.fixture(scope="session")
def sandbox(keys):
    """One sandbox process-in-a-thread for the run, over real HTTP, signing with the key the API trusts."""
    app = create_sandbox_app(
        {
            "SANDBOX_TODAY": DEFAULT_NOW[:10],
            "SANDBOX_NOW": DEFAULT_NOW,
            "SANDBOX_CLOCK_FROZEN": True,
            "SANDBOX_SPEEDUP": 1000,
            "SANDBOX_TAX_API_KEY": SANDBOX_TAX_KEY,
            "SANDBOX_TAX_KEY_SERIAL": devkeys.SANDBOX_TAX_SERIAL,
            "SANDBOX_TAX_PRIVATE_KEY": str(devkeys.sandbox_tax_private_key(Path(keys["TAX_PUBLIC_KEYS"]).parent)),
        }
    )
    with serve(app) as url:
        yield url


def _config(keys: dict, database_url: str, sandbox_url: str = "http://127.0.0.1:9", **overrides) -> dict:
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "APP_NOW": DEFAULT_NOW,
        "PUBLIC_BASE_URL": "http://testserver",
        **keys,
        "WECHAT_API_BASE": f"{sandbox_url}/wechat",
        "IDENTITY_API_BASE": f"{sandbox_url}/identity",
        "AGENCY_API_BASE": f"{sandbox_url}/agency",
        "TAX_API_BASE": f"{sandbox_url}/tax",
        "TAX_API_KEY": SANDBOX_TAX_KEY,
        "POLICY_FILE": DEMO_POLICY,
        **overrides,
    }


def _upgrade(keys: dict, database_url: str) -> None:
    import flask_migrate

    from models import dispose_engines

    with create_app(_config(keys, database_url)).app_context():
        flask_migrate.upgrade()
        dispose_engines()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, keys) -> str:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _upgrade(keys, f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_engine(keys):
    engine = sa.create_engine(configuration.database_uri(TEST_DATABASE_URL))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    _upgrade(keys, TEST_DATABASE_URL)
    yield engine
    engine.dispose()


def _truncate(engine) -> None:
    with engine.begin() as connection:
        tables = (
            connection.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    _truncate(request.getfixturevalue("postgres_engine"))
    return TEST_DATABASE_URL


@pytest.fixture
def make_app(keys, database_url, sandbox):
    """Build an app on this test's database, talking to the sandbox; keyword arguments override configuration."""
    made = []

    def make(**overrides):
        app = create_app(_config(keys, database_url, sandbox, **overrides))
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            from models import dispose_engines

            dispose_engines()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def pg_app(make_app, database_url):
    """The app, on PostgreSQL only: for `postgres_only` tests (their SQLite variants are deselected)."""
    assert database_url.startswith("postgresql"), "mark the test postgres_only"
    return make_app()


@pytest.fixture
def key(keys):
    """The private key the sandbox tax bureau signs callbacks with; the app trusts it (serial sandbox-1)."""
    return payments.sandbox_key(keys)


@pytest.fixture
def resident_with_callers(app):
    """`make(build)`: the resident `build()` makes (in an app context), with the caller set around them
    (tests/support/callers.py), committed; returns (their resident_id, auth headers by caller)."""
    from models import db

    def make(build):
        with app.app_context():
            owner = build()
            headers = caller_headers(owner)
            db.session.commit()
            return owner.public_id, headers

    return make


def pytest_collection_modifyitems(config, items):
    """`postgres_only` tests (concurrent transactions, row locks) run only on PostgreSQL: their SQLite
    variants are deselected, not skipped. Without TEST_DATABASE_URL none of them runs; CI sets it."""
    keep, drop = [], []
    for item in items:
        on_sqlite = getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "sqlite"
        (drop if item.get_closest_marker("postgres_only") and on_sqlite else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep

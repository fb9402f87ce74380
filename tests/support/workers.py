"""What each pytest-xdist worker keeps to itself: its PostgreSQL database and its Redis database.

`manage.py test` runs the suite on one worker per core (`-n auto`); tests that share a server resource
with a fixed name get one per worker, so that two workers never empty each other's data.
"""

from __future__ import annotations

import os

import sqlalchemy as sa

from miniapp_api.core.config import database_uri

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... or "" without xdist
NUMBER = int(WORKER[2:]) if WORKER.startswith("gw") else 0
REDIS_TEST_URL = f"redis://127.0.0.1:6379/{15 - NUMBER}"  # emptied by the tests that use it


def postgres_url(base: str) -> str:
    """The worker's own database beside `base` (`pension_test` → `pension_test_gw1`), created if missing."""
    if not WORKER:
        return base
    server, _, name = base.rpartition("/")
    own = f"{name}_{WORKER}"
    engine = sa.create_engine(database_uri(base), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own}).first()
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{own}"'))
    engine.dispose()
    return f"{server}/{own}"

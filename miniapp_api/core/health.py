"""`GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: the database answers, the
schema is at the migrations' head, Redis answers where `REDIS_URL` is set)."""

from __future__ import annotations

import functools

from flask import Blueprint, current_app
from sqlalchemy import text

from miniapp_api.core import paths
from miniapp_api.core.errors import ApiError
from models import db

bp = Blueprint("health", __name__)
OK = "ok"


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process answers; nothing else is looked at."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Answer 200 when every check passes, else 503 not_ready with the failed checks."""
    checks = {**_database_checks()}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = _redis_check(current_app.config["REDIS_URL"])
    failed = {name: result for name, result in checks.items() if result != OK}
    if failed:
        raise ApiError(503, "not_ready", "not ready: " + ", ".join(failed), checks=checks, failed=failed)
    return {"status": "ready", "checks": checks}


@functools.cache
def migration_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory(str(paths.MIGRATIONS)).get_heads()))


def _database_checks() -> dict[str, str]:
    from alembic.migration import MigrationContext

    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    except Exception as exc:
        return {"database": f"unavailable ({type(exc).__name__})", "schema": "unknown (no database)"}
    head = migration_heads()
    if current == head:
        return {"database": OK, "schema": OK}
    at = ", ".join(current) or "never migrated"
    return {"database": OK, "schema": f"at {at}, head is {', '.join(head)}"}


def _redis_check(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    finally:
        client.close()
    return OK

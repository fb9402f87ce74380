"""Views that only read run their statements outside a transaction.

PostgreSQL's READ COMMITTED gives each statement its own snapshot even inside a transaction, so a
read-only request loses nothing without one, and saves the BEGIN and ROLLBACK round trips. A view
marked here must never write: each statement would commit on its own.

Its statements run on one connection of the read-only bind (`BIND`): an engine of its own on the same
database, whose connections are opened in autocommit and keep it (a sync worker keeps one, beside
the app engine's). Switching a pooled connection of the app's engine into autocommit and back, and
rolling it back on return, cost a lookup 8.5 % of its instructions (docs/decisions.md). An in-memory
SQLite database, which a second engine would open anew and empty, has no such bind: its read-only
views read on the app's engine, in a transaction. The connection is checked out when the first
statement needs it and given back when the request ends: `connection()` hands it to Core statements
(the stacked reads of `identity.access`), and the session binds to it (`models.base.Session`) only
if the view uses one. An account lookup opens no ORM session: opening and closing one around its one
statement cost an eighth of its CPU.
"""

from __future__ import annotations

from functools import wraps

from flask import Flask, g, has_app_context
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url

from models import db
from models.base import SESSION_BIND, Session

BIND = "read_only"
_CONNECTION = "read_only_connection"
_SESSION_ON_IT = "read_only_session"


def init_app(app: Flask) -> None:
    """Declare the read-only bind (before `db.init_app`), and give its connection back when the
    request ends: not the app context, which a request shares with an app context already pushed (a
    command, a test) and which would keep the binding after it."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not _in_memory(url):
        read_only = {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],  # Flask-SQLAlchemy gives them to the default engine only
            "url": url,
            "isolation_level": "AUTOCOMMIT",
            "pool_reset_on_return": None,  # an autocommit connection has no transaction to end
        }
        app.config["SQLALCHEMY_BINDS"] = {**app.config.get("SQLALCHEMY_BINDS", {}), BIND: read_only}
    app.teardown_request(_give_back)


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def read_only(view):
    """Run the view's statements in autocommit mode, on `connection()`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.setdefault(SESSION_BIND, connection)
        return view(*args, **kwargs)

    return wrapper


def connection() -> Connection:
    """The read-only request's autocommit connection (checked out on first use; of the app's engine for
    an in-memory database)."""
    if _CONNECTION not in g:
        setattr(g, _CONNECTION, db.engines.get(BIND, db.engine).connect())
    return g.get(_CONNECTION)


def _give_back(_exc) -> None:
    g.pop(SESSION_BIND, None)
    if g.pop(_SESSION_ON_IT, False):
        db.session.remove()  # the view's session lets go of the connection first
    checked_out = g.pop(_CONNECTION, None)
    if checked_out is not None:
        checked_out.close()


@event.listens_for(Session, "after_begin")
def _began(session, transaction, connection) -> None:
    """Note a session that began on the request's connection: only that one is ended with it (a
    session already in a transaction when the request came, in an app context the request shares,
    keeps its own connection and its work)."""
    if has_app_context() and connection is g.get(_CONNECTION):
        setattr(g, _SESSION_ON_IT, True)

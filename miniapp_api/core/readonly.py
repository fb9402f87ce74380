"""Views that only read run their statements outside a transaction.

PostgreSQL's READ COMMITTED gives each statement its own snapshot even inside a transaction, so a
read-only request loses nothing without one, and saves the BEGIN and ROLLBACK round trips. A view
marked here must never write: each statement would commit on its own.
"""

from __future__ import annotations

from functools import wraps

from models import db


def read_only(view):
    """Run the view's statements in autocommit mode (apply before any statement of the request)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return view(*args, **kwargs)

    return wrapper

"""Looking at the test database from outside a request."""

from __future__ import annotations

import sqlalchemy as sa

from models import db


def count(app, model) -> int:
    """The number of rows of `model` in the app's database."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))

"""Migration 0009 gives pensions started before it their start instant, so later contributions raise them."""

from __future__ import annotations

import datetime as dt

import flask_migrate
import sqlalchemy as sa

from models import Resident, db
from policy.calendar import SHANGHAI
from tests.support import factories


def test_upgrade_gives_earlier_pensions_their_start_instant(app):
    with app.app_context():
        started = factories.resident(receiving_basic_pension=True)
        waiting = factories.resident()
        db.session.flush()
        started_id, waiting_id = started.id, waiting.id
        db.session.commit()  # and no read after it: an open read would block the migration's ALTER TABLE
        flask_migrate.downgrade(revision="0008")
        db.session.execute(
            sa.text("UPDATE residents SET benefit_started_on = :on WHERE id = :id"),
            {"on": dt.date(2026, 9, 1), "id": started_id},
        )
        db.session.commit()
        flask_migrate.upgrade()
        found = dict(db.session.execute(sa.select(Resident.id, Resident.benefit_started_at)).all())
    assert found[started_id] == dt.datetime(2026, 9, 1, tzinfo=SHANGHAI)
    assert found[waiting_id] is None

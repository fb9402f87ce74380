"""Migration 0010 keeps the masked ID number of residents written before it."""

from __future__ import annotations

import flask_migrate
import sqlalchemy as sa

from models import Resident, db
from tests.support import factories


def test_upgrade_masks_the_residents_already_there(app):
    with app.app_context():
        number = factories.new_id_number()
        factories.resident(number=number)
        db.session.commit()
        flask_migrate.downgrade(revision="0007")
        flask_migrate.upgrade()
        masked = db.session.execute(sa.select(Resident.id_number_masked)).scalar_one()
    assert masked == number[:4] + "*" * 10 + number[-4:]

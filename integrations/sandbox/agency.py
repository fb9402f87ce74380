"""Sandbox agency registry (社保经办): `GET /v1/residents/<id_number>` answers INTEGRATIONS.md §3
from the demo residents, 404 for anyone else.

"Today" (for the resident whose registration was corrected today) is config `SANDBOX_TODAY`
(ISO date) when set, else the current date in Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify

from policy.calendar import SHANGHAI

from . import demo_data

bp = Blueprint("sandbox_agency", __name__)


def sandbox_today() -> dt.date:
    """The sandbox's date: config `SANDBOX_TODAY`, else today in Asia/Shanghai."""
    configured = current_app.config.get("SANDBOX_TODAY")
    if isinstance(configured, dt.date):
        return configured
    if configured:
        return dt.date.fromisoformat(configured)
    return dt.datetime.now(SHANGHAI).date()


@bp.get("/v1/residents/<id_number>")
def resident(id_number: str):
    record = demo_data.registry_record(id_number, sandbox_today())
    if record is None:
        return jsonify({"error": "not_found", "message": "no basic pension relation in Shanxi"}), 404
    return jsonify(record)

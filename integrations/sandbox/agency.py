"""Sandbox agency registry (社保经办): `GET /v1/residents/<id_number>` answers INTEGRATIONS.md §3
from the demo residents, 404 for anyone else; `GET /v1/changes` serves the change feed of §3a
(integrations/sandbox/registry_feed.py), and `POST /sandbox/changes` lets a test or the demo add to it:

- `{"id_number", "record": {...§3 record}}`: a new resident, or a whole new record;
- `{"id_number", "update": {"deceased_on": "2027-04-30"}}`: fields changed on the current record
  (a death, `categories`, `basic_pension`, ...);
- `{"id_number", "record": null}`: no longer enrolled in the province (left it).

What was added also answers `GET /v1/residents/<id_number>` from then on.

"Today" (for the resident whose registration was corrected today) is config `SANDBOX_TODAY`
(ISO date) when set, else the current date in Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
import threading

from flask import Blueprint, current_app, jsonify, request

from integrations.agency import FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, MalformedRecord, parse_record
from policy.calendar import SHANGHAI

from . import demo_data
from .registry_feed import BadCursor, FeedLog

bp = Blueprint("sandbox_agency", __name__)
_feed_lock = threading.Lock()
NOT_FOUND = {"error": "not_found", "message": "no basic pension relation in Shanxi"}


def sandbox_today() -> dt.date:
    """The sandbox's date: config `SANDBOX_TODAY`, else today in Asia/Shanghai."""
    configured = current_app.config.get("SANDBOX_TODAY")
    if isinstance(configured, dt.date):
        return configured
    if configured:
        return dt.date.fromisoformat(configured)
    return dt.datetime.now(SHANGHAI).date()


def feed() -> FeedLog:
    """This sandbox app's feed, loaded with the demo residents on first use."""
    with _feed_lock:
        if "sandbox_feed" not in current_app.extensions:
            current_app.extensions["sandbox_feed"] = FeedLog(sandbox_today())
        return current_app.extensions["sandbox_feed"]


@bp.get("/v1/residents/<id_number>")
def resident(id_number: str):
    id_number = id_number.strip().upper()
    added = feed().added(id_number)
    record = demo_data.registry_record(id_number, sandbox_today()) if added is None else added.record
    if record is None:
        return jsonify(NOT_FOUND), 404
    return jsonify(record)


@bp.get("/v1/changes")
def changes():
    limit = request.args.get("limit", str(FEED_LIMIT_DEFAULT))
    if not limit.isdigit() or not 1 <= int(limit) <= FEED_LIMIT_MAX:
        return _bad(f"limit must be an integer 1–{FEED_LIMIT_MAX}")
    try:
        return jsonify(feed().page(request.args.get("after"), int(limit)))
    except BadCursor:
        return _bad("unknown cursor")


@bp.post("/sandbox/changes")
def add_change():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("id_number"), str):
        return _bad("id_number (string) is required")
    id_number = body["id_number"].strip().upper()
    try:
        record = _new_record(id_number, body)
    except (MalformedRecord, KeyError) as exc:
        return _bad(f"bad record: {exc}")
    return jsonify({"seq": feed().append(id_number, record)}), 201


def _new_record(id_number: str, body: dict) -> dict | None:
    """The whole record the change carries, checked against §3 (None: left the province)."""
    if "update" in body:
        current = feed().current(id_number)
        if current is None or not isinstance(body["update"], dict):
            raise KeyError("update needs a current record and an object")
        record = {**current, **body["update"]}
    else:
        record = body["record"]
    if record is not None and (not isinstance(record, dict) or parse_record(record).id_number != id_number):
        raise MalformedRecord("record")
    return record


def _bad(message: str):
    return jsonify({"error": "bad_request", "message": message}), 400

"""Sandbox identity check: `POST /v1/verify` with `{"id_number", "name"}` answers
`match` (a demo resident or unenrolled person with that name), `mismatch` (known number, other
name) or `not_found`. The unenrolled people (demo_data.UNENROLLED) match here but are 404 at the agency.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import demo_data

bp = Blueprint("sandbox_identity", __name__)


@bp.post("/v1/verify")
def verify():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("id_number", "name")):
        return jsonify({"error": "bad_request", "message": "id_number and name (strings) are required"}), 400
    return jsonify({"result": _result(body["id_number"], body["name"])})


def _result(id_number: str, name: str) -> str:
    known = demo_data.identity_name(id_number)
    if known is None:
        return "not_found"
    return "match" if known == name.strip() else "mismatch"

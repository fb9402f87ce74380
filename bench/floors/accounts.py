"""Floor of the account lookup: one keyed SELECT of the resident and a JSON of the project's size.

gunicorn -c gunicorn.conf.py bench.floors.accounts:app   (DATABASE_URL, FLOOR_ACCOUNT_BYTES,
FLOOR_LEDGER_BYTES from bench/accounts.py)
"""

from __future__ import annotations

import os

from flask import Flask, jsonify

from bench.floors.connection import connection, padded

app = Flask(__name__)
SELECT = "SELECT id, public_id, name, birth_date, region_code FROM residents WHERE public_id = %s"


def _resident(resident_id: str) -> dict:
    row = connection().execute(SELECT, (resident_id,)).fetchone()
    assert row is not None
    return {"id": row[0], "resident_id": row[1], "name": row[2], "birth_date": str(row[3]), "region": row[4]}


@app.get("/api/v1/residents/<resident_id>/account")
def account(resident_id: str):
    return jsonify(padded(_resident(resident_id), int(os.environ.get("FLOOR_ACCOUNT_BYTES", 600))))


@app.get("/api/v1/residents/<resident_id>/ledger")
def ledger(resident_id: str):
    return jsonify(padded(_resident(resident_id), int(os.environ.get("FLOOR_LEDGER_BYTES", 2000))))


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")

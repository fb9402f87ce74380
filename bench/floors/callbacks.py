"""Floor of a verified payment callback: check the RSA signature over the raw body, INSERT it, COMMIT.

gunicorn -c gunicorn.conf.py bench.floors.callbacks:app   (DATABASE_URL, TAX_PUBLIC_KEYS;
bench/callbacks.py creates the table `floor_deliveries`)
"""

from __future__ import annotations

import functools
import os

from flask import Flask, jsonify, request

from bench.floors.connection import connection
from integrations import tax_signature
from miniapp_api.payments.notify import NOTIFY_PATH

app = Flask(__name__)
CREATE = "CREATE TABLE IF NOT EXISTS floor_deliveries (id bigserial PRIMARY KEY, body bytea NOT NULL)"


@functools.cache
def _keys() -> dict:
    return tax_signature.load_public_keys(os.environ["TAX_PUBLIC_KEYS"])


@app.post(NOTIFY_PATH)
def notify():
    raw, headers = request.get_data(), request.headers
    key = _keys().get(headers.get("Tax-Serial", ""))
    signed = (headers.get(name, "") for name in ("Tax-Timestamp", "Tax-Nonce", "Tax-Signature"))
    timestamp, nonce, signature = signed
    if key is None or not tax_signature.verify(key, timestamp, nonce, raw, signature):
        return jsonify(code="FAIL"), 401
    connection().execute("INSERT INTO floor_deliveries (body) VALUES (%s)", (raw,))  # autocommit: one COMMIT
    return jsonify(code="SUCCESS")


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")

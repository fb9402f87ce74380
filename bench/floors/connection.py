"""One psycopg connection per worker process (gunicorn sync workers serve one request at a time)."""

from __future__ import annotations

import os

import psycopg

_connection: psycopg.Connection | None = None


def connection() -> psycopg.Connection:
    """Opened on first use, after gunicorn forked the worker."""
    global _connection
    if _connection is None or _connection.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        _connection = psycopg.connect(url, autocommit=True)  # one round trip a statement, no BEGIN
    return _connection


def padded(document: dict, size: int) -> dict:
    """`document` with a `pad` field making its compact JSON about `size` bytes long."""
    import json

    length = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    return {**document, "pad": "x" * max(0, size - length - 9)}

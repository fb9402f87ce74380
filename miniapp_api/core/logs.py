"""Structured logs: one JSON object a line, with the request id, and ID numbers masked in everything."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

# 18-character resident IDs (and the old 15-digit form) wherever they appear in a message or traceback.
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{4})(\d{7}|\d{10})(\d{3}[\dXx]|\d{4})(?![0-9A-Za-z])")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def mask_ids(text: str) -> str:
    return ID_LIKE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; masking runs over the final text, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_ids(json.dumps(entry, ensure_ascii=False))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


def configure(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)] + [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex


def _echo_request_id(response):
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response

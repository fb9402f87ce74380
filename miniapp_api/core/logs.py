"""Structured logs: one JSON object a line, with the request id; personal data and secrets masked in everything.

Masking runs over the final text of each line, traceback included: ID numbers keep their first and last
four characters, Chinese names their first and last character, and the values of secret-bearing
parameters (`secret=`, `access_token=`, `"session_key": ...`, bearer tokens) are replaced by `***`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

from policy.id_number import mask_name

# 18-character resident IDs (and the old 15-digit form) wherever they appear in a message or traceback.
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{4})(\d{7}|\d{10})(\d{3}[\dXx]|\d{4})(?![0-9A-Za-z])")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A run of 2–4 Chinese characters standing alone: how a person's name appears in a message or an error.
NAME_LIKE = re.compile(r"(?<![\u3400-\u9fff])[\u3400-\u9fff]{2,4}(?![\u3400-\u9fff])")
SECRET_KEYS = "secret|appsecret|access_token|js_code|session_key|verify_result|signature|password"
SECRET_PARAMETER = re.compile(rf"(?i)\b({SECRET_KEYS})=([^&\s\"'<>]+)")
SECRET_MEMBER = re.compile(rf'(?i)(\\?"(?:{SECRET_KEYS})\\?"\s*:\s*\\?")([^"\\]*)')
BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")


def mask_ids(text: str) -> str:
    return ID_LIKE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def mask_names(text: str) -> str:
    return NAME_LIKE.sub(lambda m: mask_name(m.group(0)), text)


def mask_secrets(text: str) -> str:
    text = SECRET_PARAMETER.sub(r"\1=***", text)
    text = SECRET_MEMBER.sub(r"\1***", text)
    return BEARER.sub(r"\1***", text)


def masked(text: str) -> str:
    """The text with ID numbers, names and secrets masked."""
    return mask_secrets(mask_names(mask_ids(text)))


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; masking runs over the final text, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return masked(json.dumps(self.entry(record), ensure_ascii=False))

    def entry(self, record: logging.LogRecord) -> dict:
        """The line's fields, before masking (a subclass adds its own)."""
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return entry


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

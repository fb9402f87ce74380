"""What a request body may be (API.md conventions): at most 64 KiB, and JSON within limits.

- Size, on every route and before the view runs: a body longer than `MAX_BODY` bytes answers 413
  `payload_too_large`, whether its Content-Length says so (nothing is read) or a chunked body without
  Content-Length turns out longer (at most `MAX_BODY` + 1 bytes are read). Routes that answer in a
  format of their own and bound their body themselves (`SELF_LIMITED`: the tax bureau callback) are
  left to do so.
- JSON, wherever a route reads it (`loads`, used by the request parser of `core.api`): a body that is
  not UTF-8, not JSON, nested deeper than `MAX_DEPTH` levels, or that carries a number outside
  ±`MAX_SAFE_INTEGER` (integers, floats beyond that magnitude, NaN and Infinity) or a string that
  cannot be written as UTF-8 (a lone surrogate escape) answers 422 `invalid_body`. A body with a
  Content-Type other than JSON answers 415 `unsupported_media_type`.

Every refusal is problem+json with the code's `detail` (core/messages.py); an `invalid_body` adds what
was wrong in `errors._body`.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from miniapp_api.core.errors import ApiError, handle_api_error

MAX_BODY = 64 * 1024  # bytes
MAX_DEPTH = 32  # levels of arrays and objects; a scalar is at level 0, `[]` and `{}` at level 1
MAX_SAFE_INTEGER = 2**53  # what every JSON reader, JavaScript's included, holds exactly
_MAX_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))
# Endpoints that bound their own body and answer in their own format (INTEGRATIONS.md §4: the tax
# bureau callback reads at most 64 KiB and answers {"code": "FAIL"} with 413 beyond).
SELF_LIMITED = frozenset({"tax_callbacks.notify"})


class InvalidBody(ApiError):
    """422 `invalid_body`: the body is not JSON this API reads; `reason` goes to `errors._body`."""

    def __init__(self, reason: str):
        super().__init__(422, "invalid_body", reason, errors={"_body": [reason]})
        self.reason = reason


def payload_too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"the body is over {MAX_BODY} bytes")


def unsupported_media_type() -> ApiError:
    return ApiError(415, "unsupported_media_type", "the body is not JSON")


def init_app(app: Flask) -> None:
    """Bound every body to `MAX_BODY` (also where a route reads it lazily) and refuse longer ones early."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.before_request(_refuse_oversized)
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def _refuse_oversized() -> None:
    if request.endpoint in SELF_LIMITED:
        return
    length = request.content_length
    if length is not None:
        if length > MAX_BODY:
            raise payload_too_large()  # refused unread
        return
    # A chunked body: the server ends the stream. Without Content-Length or Transfer-Encoding a request
    # has no body (RFC 9112 §6.3), though gunicorn marks every stream as ended: nothing to read then.
    if "wsgi.input_terminated" in request.environ and "HTTP_TRANSFER_ENCODING" in request.environ:
        request.max_content_length = MAX_BODY + 1  # the stream is cut there silently: the length tells
        body = request.get_data(cache=True)
        request.max_content_length = None  # the app's limit again
        if len(body) > MAX_BODY:
            raise payload_too_large()


def _too_large(error: RequestEntityTooLarge) -> Response:
    return handle_api_error(payload_too_large())


def loads(raw: bytes) -> Any:
    """The JSON value of a request body within this API's limits; `InvalidBody` otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody(f"not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except _Refused as refused:
        raise InvalidBody(str(refused)) from None
    except RecursionError:
        raise InvalidBody(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # json.JSONDecodeError, and anything else the decoder refuses
        raise InvalidBody(f"not JSON: {error}"[:200]) from None
    _check_tree(value)
    return value


class _Refused(ValueError):
    """A value the decoder read that this API refuses (raised from inside json.loads)."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INTEGER_DIGITS:  # before int(): no 5000-digit conversions
        raise _Refused(f"an integer outside ±2^53 ({text[:20]}…)")
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise _Refused(f"an integer outside ±2^53 ({text})")
    return value


def _float(text: str) -> float:
    try:
        exact = Decimal(text)  # exact: 9007199254740993.0 is beyond 2^53 though its float is not
    except InvalidOperation:
        raise _Refused(f"not a number ({text[:20]})") from None
    if not exact.is_finite() or exact.copy_abs() > MAX_SAFE_INTEGER:
        raise _Refused(f"a number outside ±2^53 ({text[:20]}{'…' if len(text) > 20 else ''})")
    return float(text)


def _constant(text: str) -> float:
    raise _Refused(f"{text} is not a JSON number")


def _check_tree(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings (keys too) that are not UTF-8 text; no recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, dict | list):
            continue
        depth += 1
        if depth > MAX_DEPTH:
            raise InvalidBody(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, member in item.items():
                _check_text(key)
                stack.append((member, depth))
        else:
            stack.extend((member, depth) for member in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidBody("a string with a lone surrogate (\\ud800–\\udfff) is not UTF-8 text") from None

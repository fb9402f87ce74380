"""JSON answers written by orjson: Flask's provider with a faster encoder, the same output otherwise.

Every JSON answer (jsonify, the schemas' dumps, problem details) goes through `app.json`. Flask's
provider encodes with the standard library; orjson (a compiled encoder, well kept and widely used)
writes a page's JSON in a fraction of the time, about 6 % of an account lookup's CPU
(docs/performance.md). Dates and dataclasses still go through Flask's `default` (HTTP dates, sorted
fields) and mapping keys stay sorted, so what changes is the text: UTF-8 rather than `\\u4e2d`-style
escapes (API.md: JSON in UTF-8) and compact separators. Beyond what the API answers (schema-dumped
dicts of strings, integers within ±2^53, booleans) orjson differs from the standard library in
small ways: non-string keys sort as text, NaN becomes null, integers of 2^64 and more are refused.
Reading JSON is left to Flask and `core.bodies`.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_PRETTY = _OPTIONS | orjson.OPT_INDENT_2


class JSONProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """As Flask's, by orjson; a caller's own formatting (`indent`, `separators`, ...) goes to Flask's."""
        if kwargs:
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """`jsonify`: compact, or indented when Flask would indent (debug mode, `compact = False`)."""
        obj = self._prepare_response_obj(args, kwargs)
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        options = (_PRETTY if pretty else _OPTIONS) | orjson.OPT_APPEND_NEWLINE
        response_class = cast(type[Response], self._app.response_class)  # a Flask app's: it takes bytes
        return response_class(orjson.dumps(obj, default=self.default, option=options), mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)

"""Schema fields of the API's own formats, so that every response writes them the same way."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from marshmallow import fields

from miniapp_api.core.clock import rfc3339


class Instant(fields.DateTime):
    """An aware instant, written in RFC 3339 in Beijing time (`2027-03-02T10:00:00+08:00`)."""

    def _serialize(self, value: dt.datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else rfc3339(value)


Date = fields.Date  # ISO 8601 `YYYY-MM-DD`


def EnumString(members: type[enum.StrEnum], **kwargs: Any) -> fields.String:
    """A state or kind of `models.enums`, written as its value and documented with every value."""
    metadata = {"enum": [member.value for member in members], **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)


def StrictInt(**kwargs: Any) -> fields.Integer:
    """An integer that must arrive as a JSON integer: no strings, floats (marshmallow refuses booleans)."""
    return fields.Integer(strict=True, **kwargs)


def Computed(serialize: Any, type_: str, **metadata: Any) -> fields.Function:
    """A response field computed from the dumped object, documented as OpenAPI type `type_`."""
    return fields.Function(serialize, metadata={"type": type_, **metadata})

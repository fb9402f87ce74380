"""The one clock every rule, expiry, token and signature check reads "now" from."""

from __future__ import annotations

import datetime as dt

from flask import current_app

from policy.calendar import SHANGHAI

__all__ = ["SHANGHAI", "Clock", "clock", "parse_instant", "rfc3339"]


class Clock:
    """Real time, or an instant standing still (`APP_NOW`, tests)."""

    def __init__(self, frozen: dt.datetime | None = None):
        self.freeze(frozen)

    def now(self) -> dt.datetime:
        return self.frozen or dt.datetime.now(dt.timezone.utc)

    def local_now(self) -> dt.datetime:
        """Now in Asia/Shanghai, the time zone of every policy calendar."""
        return self.now().astimezone(SHANGHAI)

    def today(self) -> dt.date:
        return self.local_now().date()

    def freeze(self, instant: dt.datetime | None) -> None:
        if instant is not None and instant.tzinfo is None:
            raise ValueError("a frozen instant needs a UTC offset")
        self.frozen = instant


def parse_instant(text: str) -> dt.datetime:
    """An ISO-8601 instant that must carry an offset (`2027-03-02T10:00:00+08:00`)."""
    instant = dt.datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return instant


def clock() -> Clock:
    return current_app.extensions["clock"]


def rfc3339(instant: dt.datetime) -> str:
    """Instants the API shows: RFC 3339 in Beijing time (+08:00), whatever the database returned."""
    return instant.astimezone(SHANGHAI).isoformat()

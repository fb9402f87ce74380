"""R4 collection window (征缴期), computed in the standard's time zone whatever the instant's offset."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from policy.standard import Standard, WindowSpec


@dataclass(frozen=True)
class WindowState:
    """Whether payments are accepted now, and the current (if open) or next (if closed) period.

    A period is the half-open interval [opens_at, closes_at): opens_at is 00:00:00 on the first
    window day of the month and closes_at is 00:00:00 on the day after the last window day, so
    25 June 23:59:59.999 is inside and 26 June 00:00:00 is not. Both are aware datetimes in the
    standard's time zone (Asia/Shanghai, +08:00).
    """

    open: bool
    opens_at: dt.datetime
    closes_at: dt.datetime


def local_time(standard: Standard, instant: dt.datetime) -> dt.datetime:
    """The instant on the policy calendar's wall clock; naive datetimes are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("the instant needs a UTC offset (naive datetimes are ambiguous)")
    return instant.astimezone(standard.window.zone)


def local_date(standard: Standard, instant: dt.datetime) -> dt.date:
    return local_time(standard, instant).date()


def window_state(standard: Standard, instant: dt.datetime) -> WindowState:
    local = local_time(standard, instant)
    for opens_at, closes_at in _periods(standard.window, local.year, local.month):
        if local < closes_at:
            return WindowState(opens_at <= local, opens_at, closes_at)
    raise AssertionError("a window with at least one month always has a period within a year")


def _periods(spec: WindowSpec, year: int, month: int) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Window periods from the given month on, for 13 months (enough to reach any listed month)."""
    for step in range(13):
        y, m = year + (month - 1 + step) // 12, (month - 1 + step) % 12 + 1
        if m in spec.months:
            length = calendar.monthrange(y, m)[1]
            first = dt.date(y, m, min(spec.first_day, length))
            after_last = dt.date(y, m, min(spec.last_day, length)) + dt.timedelta(days=1)
            yield _midnight(first, spec), _midnight(after_last, spec)


def _midnight(day: dt.date, spec: WindowSpec) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=spec.zone)

"""R13 working days: when a payment certificate becomes available (China's statutory calendar)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

import chinese_calendar

from policy.calendar import SHANGHAI

CERTIFICATE_DELAY_WORKDAYS = 5

log = logging.getLogger("policy.workdays")
_warned_years: set[int] = set()


def certificate_available_at(paid_at: dt.datetime, overrides: Mapping[dt.date, bool] | None = None) -> dt.datetime:
    """00:00 Asia/Shanghai of the 5th working day after the payment date (the payment day not counted)."""
    if paid_at.tzinfo is None:
        raise ValueError("paid_at needs a UTC offset")
    day = add_workdays(paid_at.astimezone(SHANGHAI).date(), CERTIFICATE_DELAY_WORKDAYS, overrides)
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI)


def add_workdays(start: dt.date, count: int, overrides: Mapping[dt.date, bool] | None = None) -> dt.date:
    """The `count`-th working day strictly after `start`."""
    day = start
    while count > 0:
        day += dt.timedelta(days=1)
        count -= is_workday(day, overrides)
    return day


def is_workday(day: dt.date, overrides: Mapping[dt.date, bool] | None = None) -> bool:
    """Overrides first, then the statutory calendar, then (uncovered years) Monday to Friday."""
    if overrides and day in overrides:
        return bool(overrides[day])
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_fallback(day.year)
        return day.weekday() < 5


def _warn_fallback(year: int) -> None:
    if year not in _warned_years:
        _warned_years.add(year)
        log.warning(
            "no statutory holiday data for %d: counting Monday to Friday as working days "
            "(configure overrides for that year's holidays)",
            year,
        )

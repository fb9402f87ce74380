"""R13: a certificate is available from 00:00 Asia/Shanghai of the 5th working day after payment."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from policy import workdays
from policy.workdays import SHANGHAI, certificate_available_at, is_workday

UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test starts as a new process would: no year warned about yet."""
    monkeypatch.setattr(workdays, "_warned_years", set())


def beijing(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "paid_at, available_on",
    [
        # Ordinary week: Monday → Tue..Fri, Mon = the 5th working day.
        (beijing(2025, 3, 3, 10, 0), dt.date(2025, 3, 10)),
        (beijing(2025, 3, 3, 23, 59, 59), dt.date(2025, 3, 10)),
        (beijing(2025, 3, 7, 0, 0), dt.date(2025, 3, 14)),
        # National Day 2025: 1–8 Oct off; Sun 28 Sep and Sat 11 Oct are adjusted working days.
        (beijing(2025, 9, 30, 15, 0), dt.date(2025, 10, 14)),  # 9, 10, 11(Sat), 13, 14 Oct
        (beijing(2025, 9, 26, 15, 0), dt.date(2025, 10, 10)),  # 28(Sun), 29, 30 Sep, 9, 10 Oct
        # Spring Festival 2026: 15–23 Feb off; Sat 14 Feb and Sat 28 Feb are adjusted working days.
        (beijing(2026, 2, 12, 9, 0), dt.date(2026, 2, 26)),  # 13, 14(Sat), 24, 25, 26 Feb
        (beijing(2026, 2, 13, 9, 0), dt.date(2026, 2, 27)),  # 14(Sat), 24, 25, 26, 27 Feb
        (beijing(2026, 2, 24, 9, 0), dt.date(2026, 3, 2)),  # 25, 26, 27, 28(Sat) Feb, 2 Mar
        # 23:30 UTC on Sunday 2 March is already Monday 07:30 in Beijing.
        (dt.datetime(2025, 3, 2, 23, 30, tzinfo=UTC), dt.date(2025, 3, 10)),
        # 15:59 UTC is still the same day in Beijing (23:59).
        (dt.datetime(2025, 3, 2, 15, 59, tzinfo=UTC), dt.date(2025, 3, 7)),
    ],
)
def test_available_from_midnight_of_the_fifth_working_day(paid_at, available_on):
    available = certificate_available_at(paid_at)
    assert available == dt.datetime.combine(available_on, dt.time(0, 0), tzinfo=SHANGHAI)
    assert available.isoformat() == f"{available_on.isoformat()}T00:00:00+08:00"


def test_statutory_calendar_is_what_the_table_assumes():
    assert not is_workday(dt.date(2025, 10, 8))
    assert is_workday(dt.date(2025, 9, 28)) and is_workday(dt.date(2025, 10, 11))
    assert is_workday(dt.date(2026, 2, 14)) and not is_workday(dt.date(2026, 2, 23))


def test_uncovered_year_falls_back_to_weekends_only_and_warns_once(caplog):
    with caplog.at_level(logging.WARNING, logger="policy.workdays"):
        first = certificate_available_at(beijing(2027, 3, 1, 10, 0))  # Monday
        again = certificate_available_at(beijing(2027, 3, 2, 10, 0))  # Tuesday
    assert first == beijing(2027, 3, 8)
    assert again == beijing(2027, 3, 9)
    warnings = [r for r in caplog.records if r.name == "policy.workdays"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING and "2027" in warnings[0].getMessage()


def test_warning_is_per_year(caplog):
    with caplog.at_level(logging.WARNING, logger="policy.workdays"):
        certificate_available_at(beijing(2027, 12, 29, 10, 0))  # counts into 2028
    years = sorted(r.getMessage() for r in caplog.records if r.name == "policy.workdays")
    assert len(years) == 2 and "2027" in years[0] and "2028" in years[1]


def test_override_makes_a_weekday_a_holiday_in_an_uncovered_year(caplog):
    overrides = {dt.date(2027, 3, 3): False}  # Wednesday off
    with caplog.at_level(logging.WARNING, logger="policy.workdays"):
        available = certificate_available_at(beijing(2027, 3, 1, 10, 0), overrides)
    assert available == beijing(2027, 3, 9)  # 2, 4, 5, 8, 9 Mar
    assert caplog.records  # the other days still fell back on weekends-only


def test_override_makes_a_saturday_a_working_day():
    overrides = {dt.date(2027, 3, 6): True}
    assert certificate_available_at(beijing(2027, 3, 1, 10, 0), overrides) == beijing(2027, 3, 6)


def test_fully_overridden_days_log_nothing(caplog):
    overrides = {dt.date(2027, 3, 1) + dt.timedelta(days=n): n % 7 < 5 for n in range(1, 10)}
    with caplog.at_level(logging.WARNING, logger="policy.workdays"):
        assert certificate_available_at(beijing(2027, 3, 1, 10, 0), overrides) == beijing(2027, 3, 8)
    assert not caplog.records


def test_year_end_crossing_into_an_uncovered_year_never_raises():
    # Thu 31 Dec 2026 counts by the calendar; 2027 falls back, so even New Year's Day counts
    # until an override says otherwise.
    assert certificate_available_at(beijing(2026, 12, 30, 10, 0)) == beijing(2027, 1, 6)


def test_naive_instant_is_refused():
    with pytest.raises(ValueError):
        certificate_available_at(dt.datetime(2025, 3, 3, 10, 0))

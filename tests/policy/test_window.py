"""R4 collection window: January–June, days 1–25, Asia/Shanghai, whatever the instant's offset."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from policy.data import load_standards
from policy.window import local_date, window_state

from .factories import NINGXIA, at

CASES = [
    # instant, open, opens_at, closes_at (closes_at is exclusive)
    ("2027-06-25T23:59:59+08:00", True, "2027-06-01T00:00:00+08:00", "2027-06-26T00:00:00+08:00"),
    ("2027-06-26T00:00:00+08:00", False, "2028-01-01T00:00:00+08:00", "2028-01-26T00:00:00+08:00"),
    ("2027-03-25T16:30:00Z", False, "2027-04-01T00:00:00+08:00", "2027-04-26T00:00:00+08:00"),
    ("2027-03-25T15:59:59Z", True, "2027-03-01T00:00:00+08:00", "2027-03-26T00:00:00+08:00"),
    ("2027-02-28T16:00:00Z", True, "2027-03-01T00:00:00+08:00", "2027-03-26T00:00:00+08:00"),
    ("2027-02-28T15:59:59Z", False, "2027-03-01T00:00:00+08:00", "2027-03-26T00:00:00+08:00"),
    ("2027-03-01T00:00:00+08:00", True, "2027-03-01T00:00:00+08:00", "2027-03-26T00:00:00+08:00"),
    ("2027-03-26T09:00:00-07:00", False, "2027-04-01T00:00:00+08:00", "2027-04-26T00:00:00+08:00"),
    ("2027-07-01T00:00:00+08:00", False, "2028-01-01T00:00:00+08:00", "2028-01-26T00:00:00+08:00"),
    ("2027-10-15T12:00:00+08:00", False, "2028-01-01T00:00:00+08:00", "2028-01-26T00:00:00+08:00"),
    ("2027-12-31T23:59:59+08:00", False, "2028-01-01T00:00:00+08:00", "2028-01-26T00:00:00+08:00"),
    ("2027-12-31T16:00:00Z", True, "2028-01-01T00:00:00+08:00", "2028-01-26T00:00:00+08:00"),
    ("2028-01-01T00:00:00+08:00", True, "2028-01-01T00:00:00+08:00", "2028-01-26T00:00:00+08:00"),
    ("2028-02-29T12:00:00+08:00", False, "2028-03-01T00:00:00+08:00", "2028-03-26T00:00:00+08:00"),
]
IDS = [
    "jun-25-last-second",
    "jun-26-midnight",
    "utc-1630-is-beijing-0030-on-26th",
    "utc-155959-is-beijing-25th",
    "utc-evening-is-beijing-1-march",
    "utc-just-before-beijing-1-march",
    "first-second",
    "los-angeles-morning-is-beijing-26th",
    "july",
    "october",
    "new-years-eve",
    "utc-new-years-eve-is-beijing-1-jan",
    "new-year-midnight",
    "leap-day",
]


@pytest.mark.parametrize("instant, is_open, opens_at, closes_at", CASES, ids=IDS)
def test_window_edges(shanxi, instant, is_open, opens_at, closes_at):
    state = window_state(shanxi, at(instant))
    assert (state.open, state.opens_at, state.closes_at) == (is_open, at(opens_at), at(closes_at))
    assert state.opens_at.utcoffset() == dt.timedelta(hours=8)


def test_naive_datetimes_are_refused(shanxi):
    with pytest.raises(ValueError, match="UTC offset"):
        window_state(shanxi, dt.datetime(2027, 3, 2, 10, 0))


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC", "Asia/Shanghai"])
def test_process_time_zone_is_irrelevant(shanxi, monkeypatch, zone):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert window_state(shanxi, at("2027-03-25T16:30:00Z")).open is False
        assert window_state(shanxi, at("2027-03-25T15:59:59Z")).open is True
        assert local_date(shanxi, at("2027-03-25T16:30:00Z")) == dt.date(2027, 3, 26)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    "instant, is_open, closes_at",
    [
        ("2027-08-31T23:59:59+08:00", True, "2027-09-01T00:00:00+08:00"),
        ("2027-02-28T12:00:00+08:00", True, "2027-03-01T00:00:00+08:00"),
    ],
    ids=["days-1-31-ends-with-august", "days-1-31-clamped-to-february"],
)
def test_window_shape_comes_from_the_data(instant, is_open, closes_at):
    ningxia = load_standards([NINGXIA]).named("ningxia-style-2023-example")
    state = window_state(ningxia, at(instant))
    assert (state.open, state.closes_at) == (is_open, at(closes_at))

"""Resident ID numbers (公民身份号码, GB 11643-1999): validation, check digit, birth date, gender."""

from __future__ import annotations

import datetime as dt
import operator
import re
from dataclasses import dataclass

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
# Province-level codes of GB/T 2260 (first two digits of every region code).
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-character resident ID number; the message says why."""


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: dt.date
    gender: str  # "M" or "F"

    @property
    def region_code(self) -> str:
        return self.value[:6]


def check_digit(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character for the first 17 digits."""
    total = sum(map(operator.mul, map(int, first17), _WEIGHTS))  # C loops: a feed checks millions
    return _CHECK_CHARS[total % 11]


def normalize(text: str) -> str:
    return text.strip().upper()


def parse(text: str, today: dt.date | None = None) -> IdNumber:
    """Validate and decompose an ID number; `x` is accepted for the check character."""
    value = normalize(text)
    if not _SHAPE.match(value):
        raise InvalidIdNumber("must be 17 digits followed by a digit or X")
    if value[:2] not in _PROVINCES:
        raise InvalidIdNumber("unknown region code")
    birth = _birth_date(value[6:14], today)
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdNumber("check digit does not match")
    return IdNumber(value, birth, "M" if int(value[16]) % 2 else "F")


def _birth_date(digits: str, today: dt.date | None) -> dt.date:
    try:
        birth = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise InvalidIdNumber("birth date is not a real date") from None
    if birth.year < 1900 or (today is not None and birth > today):
        raise InvalidIdNumber("birth date is out of range")
    return birth


def make(region_code: str, birth_date: dt.date, sequence: int) -> str:
    """Build a valid ID number (for demo and test data); odd sequence = male."""
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def mask(value: str) -> str:
    """`1401**********0017`: first four and last four characters only."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(name: str) -> str:
    """`王*国` for names of three or more characters, else the first character and `*`."""
    if len(name) >= 3:
        return name[0] + "*" * (len(name) - 2) + name[-1]
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""

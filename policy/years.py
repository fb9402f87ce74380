"""Ages and contribution years (R11): birthdays, age on a date, required and payable years."""

from __future__ import annotations

import calendar
import datetime as dt

from policy.standard import Standard


def birthday_in(birth_date: dt.date, year: int) -> dt.date:
    """The birthday in `year`; a 29 February birthday falls on 1 March in common years."""
    if (birth_date.month, birth_date.day) == (2, 29) and not calendar.isleap(year):
        return dt.date(year, 3, 1)
    return birth_date.replace(year=year)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Completed years of age on `day` (the birthday itself counts as reached; a 29 February birthday is
    reached on 1 March in common years, as `birthday_in` says: comparing (month, day) gives the same)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_after_birthday(birth_date: dt.date, age: int) -> dt.date:
    """The first day of the month after the birthday on which `age` is reached."""
    return first_of_next_month(birthday_in(birth_date, birth_date.year + age))


def required_years(standard: Standard, birth_date: dt.date) -> int:
    """min(15, 65 − age at scheme start), never below 0 (already 65: no contribution needed)."""
    age = age_on(birth_date, standard.scheme_start)
    return max(0, min(standard.max_required_years, standard.benefit_age - age))


def payable_year(standard: Standard, birth_date: dt.date, year: int) -> bool:
    """A year can carry a contribution if the resident is under the benefit age on its 1 January.

    So those within 15 years of 65 at scheme start can pay exactly their required years (the year of
    the 65th birthday included), and those already 65 can only use the lump sum.
    """
    return year <= last_payable_year(standard, birth_date)


def last_payable_year(standard: Standard, birth_date: dt.date) -> int:
    """The last year `payable_year` allows: the year of the benefit-age birthday, or the year before
    it for someone born on 1 January (who reaches that age on the year's first day). The rules scan
    ranges of years with it instead of asking year by year (the account estimate does on every visit)."""
    return birth_date.year + standard.benefit_age - ((birth_date.month, birth_date.day) == (1, 1))

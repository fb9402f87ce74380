"""Validation of one raw standard (a JSON object) into a `Standard`; errors name the entry and field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from policy.standard import AgeSupplement, Standard, Tier, WindowSpec


class PolicyDataError(ValueError):
    """Policy data that cannot be used; the message names the file, the standard and the field."""


def parse_standard(name: str, raw: dict[str, Any]) -> Standard:
    return _parse_standard(_Reader(name, raw))


_FIELDS = frozenset(
    [
        "name",
        "note",
        "region",
        "effective_from",
        "scheme_start",
        "tiers",
        "payments_per_year",
        "window",
        "benefit_age",
        "max_required_years",
        "back_payment_max_years",
        "lump_sum_max_years",
        "collective_subsidy_ages",
        "annuity_divisor",
        "exit_subsidy_fen",
        "age_supplements",
        "low_income_supplement_fen",
        "low_income_category",
        "low_income_excluded_categories",
        "hardship_categories",
        "proxy_tier_fen",
        "interest_rates_bp",
        "interest_floor_bp",
        "collective_subsidies_fen",
        "collective_exit_subsidies_fen",
    ]
)


class _Reader:
    """Typed access to one raw standard; every failure names the standard and the field."""

    def __init__(self, name: str, raw: dict[str, Any]):
        self.name, self.raw = name, raw

    def fail(self, where: str, problem: str) -> NoReturn:
        raise PolicyDataError(f"{self.name}: {where} {problem}")

    def get(self, key: str) -> Any:
        if key not in self.raw:
            self.fail(key, "is missing")
        return self.raw[key]

    def integer(self, value: Any, where: str, low: int = 0, high: int | None = None) -> int:
        # bool is an int subclass and floats are never money: exact type check.
        if type(value) is not int or value < low or (high is not None and value > high):
            self.fail(where, _int_rule(low, high))
        return value

    def integer_field(self, key: str, low: int = 0, high: int | None = None) -> int:
        return self.integer(self.get(key), key, low, high)

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        return value

    def date(self, key: str) -> dt.date:
        try:
            return dt.date.fromisoformat(self.text(key))
        except ValueError:
            self.fail(key, "must be a date YYYY-MM-DD")

    def texts(self, key: str) -> frozenset[str]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, "must be a list of non-empty strings")
        return frozenset(value)

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, "must be an object")
        return value


def _int_rule(low: int, high: int | None) -> str:
    if high is not None:
        return f"must be an integer from {low} to {high}"
    return "must be a positive integer" if low == 1 else f"must be an integer >= {low}"


def _parse_standard(r: _Reader) -> Standard:
    unknown = sorted(set(r.raw) - _FIELDS)
    if unknown:
        r.fail(unknown[0], "is not a known field")
    scheme_start, effective_from = r.date("scheme_start"), r.date("effective_from")
    if effective_from < scheme_start:
        r.fail("effective_from", "must not be before scheme_start")
    tiers = _tiers(r)
    floor = r.integer_field("interest_floor_bp")
    default_rate, rates = _interest_rates(r, floor)
    return Standard(
        name=r.name,
        region=r.text("region"),
        effective_from=effective_from,
        scheme_start=scheme_start,
        tiers=tiers,
        payments_per_year=r.integer_field("payments_per_year", 1, 12),
        window=_window(r),
        benefit_age=r.integer_field("benefit_age", 1, 150),
        max_required_years=r.integer_field("max_required_years", 1, 100),
        back_payment_max_years=r.integer_field("back_payment_max_years", 0, 100),
        lump_sum_max_years=r.integer_field("lump_sum_max_years", 0, 100),
        collective_subsidy_ages=_age_range(r),
        annuity_divisor=r.integer_field("annuity_divisor", 1),
        exit_subsidy_fen=r.integer_field("exit_subsidy_fen"),
        age_supplements=_age_supplements(r),
        low_income_supplement_fen=r.integer_field("low_income_supplement_fen"),
        low_income_category=r.text("low_income_category"),
        low_income_excluded_categories=r.texts("low_income_excluded_categories"),
        hardship_categories=r.texts("hardship_categories"),
        proxy_tier_fen=_proxy_tier(r, tiers),
        default_interest_rate_bp=default_rate,
        interest_rates_bp=rates,
        collective_subsidies_fen=_per_region_and_year(r, "collective_subsidies_fen", scheme_start.year),
        collective_exit_subsidies_fen=_per_region_and_year(r, "collective_exit_subsidies_fen", scheme_start.year),
    )


def _tiers(r: _Reader) -> tuple[Tier, ...]:
    raw = r.get("tiers")
    if not isinstance(raw, list) or not raw:
        r.fail("tiers", "must be a non-empty list")
    tiers: list[Tier] = []
    for i, item in enumerate(raw):
        item = r.mapping(item, f"tiers[{i}]")
        amount = r.integer(item.get("amount_fen"), f"tiers[{i}].amount_fen", 1)
        subsidy = r.integer(item.get("subsidy_fen"), f"tiers[{i}].subsidy_fen", 0)
        if tiers and amount <= tiers[-1].amount_fen:
            r.fail(
                f"tiers[{i}].amount_fen", "must be greater than the tier before it (tiers ascending, each amount once)"
            )
        tiers.append(Tier(amount, subsidy))
    return tuple(tiers)


def _window(r: _Reader) -> WindowSpec:
    raw = r.mapping(r.get("window"), "window")
    months = raw.get("months")
    if not isinstance(months, list) or not months:
        r.fail("window.months", "must be a non-empty list of months 1-12")
    for i, month in enumerate(months):
        r.integer(month, f"window.months[{i}]", 1, 12)
    if len(set(months)) != len(months):
        r.fail("window.months", "must not repeat a month")
    first, last = _ordered_pair(
        r, raw.get("days"), "window.days", (1, 31), "[first_day, last_day]", "first day must not be after the last day"
    )
    return WindowSpec(frozenset(months), first, last, _timezone(r, raw.get("timezone")))


def _timezone(r: _Reader, name: Any) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, TypeError, ValueError):
        r.fail("window.timezone", f"{name!r} is not an IANA time zone")
    return name


def _age_range(r: _Reader) -> tuple[int, int]:
    return _ordered_pair(
        r,
        r.get("collective_subsidy_ages"),
        "collective_subsidy_ages",
        (0, 150),
        "[youngest, oldest]",
        "youngest must not exceed oldest",
    )


def _ordered_pair(
    r: _Reader, raw: Any, where: str, bounds: tuple[int, int], shape: str, disorder: str
) -> tuple[int, int]:
    """`[a, b]`: two integers within `bounds`, a <= b (window days, subsidy ages)."""
    if not isinstance(raw, list) or len(raw) != 2:
        r.fail(where, f"must be {shape}")
    low, high = (r.integer(v, f"{where}[{i}]", *bounds) for i, v in enumerate(raw))
    if low > high:
        r.fail(where, disorder)
    return low, high


def _age_supplements(r: _Reader) -> tuple[AgeSupplement, ...]:
    raw = r.get("age_supplements")
    if not isinstance(raw, list):
        r.fail("age_supplements", "must be a list")
    items = [r.mapping(item, f"age_supplements[{i}]") for i, item in enumerate(raw)]
    return tuple(
        AgeSupplement(
            r.integer(item.get("from_age"), f"age_supplements[{i}].from_age", 1, 150),
            r.integer(item.get("amount_fen"), f"age_supplements[{i}].amount_fen", 1),
        )
        for i, item in enumerate(items)
    )


def _proxy_tier(r: _Reader, tiers: tuple[Tier, ...]) -> int:
    if "proxy_tier_fen" not in r.raw:
        return tiers[0].amount_fen  # the lowest tier (regulation art. 5)
    amount = r.integer_field("proxy_tier_fen", 1)
    if amount not in (t.amount_fen for t in tiers):
        r.fail("proxy_tier_fen", "must be the amount of one of the tiers")
    return amount


def _interest_rates(r: _Reader, floor: int) -> tuple[int, Mapping[int, int]]:
    raw = r.mapping(r.get("interest_rates_bp"), "interest_rates_bp")
    if "default" not in raw:
        r.fail("interest_rates_bp.default", "is missing")
    rates = {key: r.integer(value, f"interest_rates_bp.{key}", floor) for key, value in raw.items()}
    default = rates.pop("default")
    return default, MappingProxyType({_year(r, k, "interest_rates_bp"): v for k, v in rates.items()})


def _per_region_and_year(r: _Reader, field: str, first_year: int) -> Mapping[str, Mapping[int, int]]:
    """`{region_code: {year: fen}}`; `collective_exit_subsidies_fen` may be left out (no region sets one)."""
    raw = r.mapping(r.get(field) if field == "collective_subsidies_fen" else r.raw.get(field, {}), field)
    table = {}
    for region, years in raw.items():
        where = f"{field}.{region}"
        if not (len(region) == 6 and region.isdigit()):
            r.fail(where, "region code must be 6 digits")
        table[region] = MappingProxyType(
            {
                _year(r, year, where, first_year): r.integer(fen, f"{where}.{year}")
                for year, fen in r.mapping(years, where).items()
            }
        )
    return MappingProxyType(table)


def _year(r: _Reader, key: str, where: str, first_year: int = 1900) -> int:
    if not (len(key) == 4 and key.isdigit() and int(key) >= first_year):
        r.fail(f"{where}.{key}", f"key must be a year from {first_year}")
    return int(key)

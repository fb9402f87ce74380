"""The policy model: one standard's numbers (tiers, window, ages, subsidies, rates), all in fen or bp."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

BASIS_POINTS = 10_000  # 150 bp = 1.50 %


@dataclass(frozen=True)
class Tier:
    amount_fen: int
    subsidy_fen: int


@dataclass(frozen=True)
class WindowSpec:
    """Collection window: days first_day..last_day (inclusive) of the listed months, local time."""

    months: frozenset[int]
    first_day: int
    last_day: int
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class AgeSupplement:
    """Exit-subsidy increase from the month after the `from_age` birthday."""

    from_age: int
    amount_fen: int


@dataclass(frozen=True)
class Standard:
    name: str
    region: str
    effective_from: dt.date
    scheme_start: dt.date
    tiers: tuple[Tier, ...]  # ascending by amount
    payments_per_year: int
    window: WindowSpec
    benefit_age: int
    max_required_years: int
    back_payment_max_years: int
    lump_sum_max_years: int
    collective_subsidy_ages: tuple[int, int]  # inclusive
    annuity_divisor: int
    exit_subsidy_fen: int
    age_supplements: tuple[AgeSupplement, ...]
    low_income_supplement_fen: int
    low_income_category: str
    low_income_excluded_categories: frozenset[str]
    hardship_categories: frozenset[str]
    proxy_tier_fen: int
    default_interest_rate_bp: int
    interest_rates_bp: Mapping[int, int] = field(hash=False)  # year -> rate
    collective_subsidies_fen: Mapping[str, Mapping[int, int]] = field(hash=False)  # region -> year -> fen
    # R11: a region's collective exit subsidy (集体补助出口补), fen a month: region -> year -> fen.
    collective_exit_subsidies_fen: Mapping[str, Mapping[int, int]] = field(hash=False, default_factory=dict)

    @property
    def tier_amounts(self) -> tuple[int, ...]:
        return tuple(tier.amount_fen for tier in self.tiers)

    def subsidy_for(self, amount_fen: int) -> int | None:
        """The entry subsidy of the tier with exactly this amount; None if no tier has it."""
        return next((t.subsidy_fen for t in self.tiers if t.amount_fen == amount_fen), None)

    def interest_rate_bp(self, year: int) -> int:
        return self.interest_rates_bp.get(year, self.default_interest_rate_bp)

    def collective_subsidy_fen(self, region_code: str, year: int) -> int:
        return self.collective_subsidies_fen.get(region_code, {}).get(year, 0)

    def collective_exit_subsidy_fen(self, region_code: str, year: int) -> int:
        """A month's collective exit subsidy in the region in `year` (0 where the region sets none)."""
        return self.collective_exit_subsidies_fen.get(region_code, {}).get(year, 0)

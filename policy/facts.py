"""The inputs of the rules: what the registry says about a resident, and what they have paid."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from functools import cache, cached_property
from typing import Any


def _freeze(instance: Any) -> None:
    """Accept any iterable for the set-valued fields (lists from JSON or queries)."""
    cls: type = type(instance)
    for name, kind in _collections(cls):
        value = getattr(instance, name)
        if not isinstance(value, kind):
            object.__setattr__(instance, name, kind(value))


@cache
def _collections(cls: type) -> tuple[tuple[str, type], ...]:
    """The frozenset- and tuple-valued fields of a facts class, with their type (read once: every account
    lookup builds these)."""
    kinds = {"frozenset": frozenset, "tuple": tuple}
    return tuple(
        (f.name, kind) for f in fields(cls) for prefix, kind in kinds.items() if str(f.type).startswith(prefix)
    )


@dataclass(frozen=True)
class ResidentFacts:
    """Agency registry facts (INTEGRATIONS.md §3); categories may include dibao, tekun,
    severe_disability and low_income."""

    birth_date: dt.date
    region_code: str
    basic_pension_paid_years: frozenset[int] = frozenset()
    receiving_basic_pension: bool = False
    categories: frozenset[str] = frozenset()
    supporter_capable: bool = True
    registration_updated_on: dt.date | None = None
    deceased_on: dt.date | None = None
    enrolled: bool = True  # False once the change feed says the person left the province (record null)

    def __post_init__(self) -> None:
        _freeze(self)


@dataclass(frozen=True)
class ContributionHistory:
    """The resident's contributions so far; pending = an order created and not yet paid or expired."""

    normal_paid: tuple[int, ...] = ()  # the year of each paid normal contribution (may repeat)
    normal_pending_years: frozenset[int] = frozenset()
    back_paid_years: frozenset[int] = frozenset()
    back_pending_years: frozenset[int] = frozenset()
    proxy_years: frozenset[int] = frozenset()
    lump_sum_years: int = 0  # years bought by the one lump-sum back-payment; 0 if none
    lump_sum_pending_years: int = 0

    def __post_init__(self) -> None:
        _freeze(self)

    # Computed once per history (the rules ask for them year by year); a frozen dataclass's fields never change.
    @cached_property
    def normal_paid_years(self) -> frozenset[int]:
        return frozenset(self.normal_paid)

    @cached_property
    def covered_years(self) -> frozenset[int]:
        """Calendar years with a paid normal, proxy or back-payment contribution."""
        return self.normal_paid_years | self.back_paid_years | self.proxy_years

    @property
    def cumulative_years(self) -> int:
        """R11 cumulative contribution years: distinct covered years plus the lump-sum years."""
        return len(self.covered_years) + self.lump_sum_years

    @property
    def back_years_committed(self) -> int:
        """Back-paid years, paid or pending, that count toward the back-payment cap."""
        return len(self.back_paid_years | self.back_pending_years) + self.lump_sum_years + self.lump_sum_pending_years

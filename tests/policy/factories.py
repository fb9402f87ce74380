"""Builders for policy tests: aware instants, residents and histories with sensible defaults."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from policy.facts import ContributionHistory, ResidentFacts

DATA = Path(__file__).with_name("data")
NINGXIA = DATA / "ningxia-style-2023.json"
# Inside the 2027 window, the same instant the app tests freeze.
NOW = dt.datetime.fromisoformat("2027-03-02T10:00:00+08:00")
TODAY = NOW.date()
D = dt.date.fromisoformat


def at(text: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert instant.tzinfo is not None
    return instant


def resident(**overrides) -> ResidentFacts:
    """Born 1970-05-01 (56 in March 2027), region 140105, basic pension paid 2021–2027."""
    values = dict(
        birth_date=D("1970-05-01"), region_code="140105", basic_pension_paid_years=frozenset(range(2021, 2028))
    )
    return ResidentFacts(**{**values, **overrides})


def history(**overrides) -> ContributionHistory:
    return ContributionHistory(**overrides)

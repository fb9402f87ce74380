"""The states and kinds the database stores, defined once for models, services and schemas.

They are `StrEnum`s in plain string columns: a member compares equal to its value, and each table's
CHECK constraint is written from the members (`sql_list`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from policy.kinds import YEARLY_KINDS, ContributionKind, Payer  # noqa: F401 (the stored kinds, re-exported)


class OrderStatus(enum.StrEnum):
    """pending → paid | closed | expired; an expired or closed order may still become paid."""

    PENDING = "pending"
    PAID = "paid"
    CLOSED = "closed"
    EXPIRED = "expired"

    @classmethod
    def live(cls) -> tuple[OrderStatus, ...]:
        """The statuses that hold the year: a pending order waits for money, a paid one has it."""
        return (cls.PENDING, cls.PAID)


class EntryKind(enum.StrEnum):
    """Ledger entries: money into the account, and money paid out of it (negative amounts)."""

    PERSONAL = "personal"
    GOVERNMENT_SUBSIDY = "government_subsidy"
    COLLECTIVE_SUBSIDY = "collective_subsidy"
    SPONSORSHIP = "sponsorship"
    INTEREST = "interest"
    BENEFIT_PAYOUT = "benefit_payout"
    RECOVERY = "recovery"  # benefits paid after the death, taken back before the inheritance (R12)
    INHERITANCE_PAYOUT = "inheritance_payout"

    @classmethod
    def contributions(cls) -> tuple[EntryKind, ...]:
        """Money paid in for the resident (what raises a pension in payment, R11); not interest."""
        return (cls.PERSONAL, cls.GOVERNMENT_SUBSIDY, cls.COLLECTIVE_SUBSIDY, cls.SPONSORSHIP)


class Funder(enum.StrEnum):
    """Who funds a ledger entry besides the payers of `Payer`."""

    GOVERNMENT = "government"
    VILLAGE_COLLECTIVE = "village_collective"
    BOOKKEEPING_INTEREST = "bookkeeping_interest"
    BENEFIT = "benefit"
    INHERITANCE = "inheritance"


class LinkStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REMOVED = "removed"

    @classmethod
    def live(cls) -> tuple[LinkStatus, ...]:
        """Links that count: waiting for the parent's consent, or in force."""
        return (cls.PENDING, cls.ACTIVE)


class LinkSide(enum.StrEnum):
    """The two people of a family link."""

    PARENT = "parent"
    SUPPORTER = "supporter"


class BindingCause(enum.StrEnum):
    """Why a WeChat user's binding to a resident began, moved or ended."""

    REAL_NAME = "real_name"  # bound by the person's own face-verified real-name check
    FACE_VERIFIED_MOVE = "face_verified_move"  # taken back from another WeChat user by a face check
    AGENCY_UNBIND = "agency_unbind"  # ended by agency staff (`residents unbind`)


class Relation(enum.StrEnum):
    CHILD = "child"
    SPOUSE = "spouse"
    OTHER_SUPPORTER = "other_supporter"


def sql_list(values: Iterable[str]) -> str:
    """`'a', 'b'` for a CHECK constraint or a partial index, in the members' order."""
    return ", ".join(f"'{value}'" for value in values)

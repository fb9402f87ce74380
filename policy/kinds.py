"""The scheme's vocabulary that rules, the database and the tax bureau share: kinds of payment and payers."""

from __future__ import annotations

import enum


class ContributionKind(enum.StrEnum):
    """What a payment is for (R3–R7)."""

    NORMAL = "normal"
    BACK_PAYMENT = "back_payment"
    LUMP_SUM = "lump_sum"
    PROXY = "proxy"


# Paid for one year each: at most one live order per resident, year and kind.
YEARLY_KINDS = (ContributionKind.NORMAL, ContributionKind.BACK_PAYMENT, ContributionKind.PROXY)


class Payer(enum.StrEnum):
    """Who paid a contribution (R9): the resident, a linked supporter, the government (R7), a sponsor."""

    SELF = "self"
    SUPPORTER = "supporter"
    GOVERNMENT = "government"
    SPONSOR = "sponsor"

"""R10 yearly interest (记账利率), in integer fen."""

from __future__ import annotations

from policy.standard import BASIS_POINTS, Standard

HALF_FEN = BASIS_POINTS // 2  # balance × rate is in 1/10,000 fen: adding half a fen rounds half up


def yearly_interest(standard: Standard, year: int, balance_fen: int) -> int:
    """Interest credited on 31 December of `year` on the balance at that year's rate.

    Rounded to the nearest fen, half up (R10 as pinned), exactly in integer arithmetic. Pass the
    standard in force on 31 December. `interest credit` does the same sum in SQL (`HALF_FEN`).
    """
    if balance_fen < 0:
        raise ValueError("the balance cannot be negative")
    return (balance_fen * standard.interest_rate_bp(year) + HALF_FEN) // BASIS_POINTS


def percent_text(rate_bp: int) -> str:
    """150 → "1.50"."""
    return f"{rate_bp // 100}.{rate_bp % 100:02d}"

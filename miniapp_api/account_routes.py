"""The individual account: balance by source, years, eligibility and benefit estimate; the ledger."""
from __future__ import annotations

from policy import benefits, years
from policy.facts import ContributionHistory

from . import accounts, residents, rulebook
from .access import resident_scoped
from .api import Blueprint
from .clock import clock
from .schemas import AccountSchema, LedgerPageSchema, LedgerQuerySchema

bp = Blueprint("accounts", __name__, url_prefix="/api/v1/residents", description="Account lookup")


@bp.get("/<resident_id>/account")
@resident_scoped
@bp.response(200, AccountSchema)
def account(resident):
    """The resident's account: balance by source, paid years, status, eligibility and benefit."""
    standard, facts = rulebook.standard(), rulebook.facts_from_snapshot(resident)
    history, totals, today = rulebook.history(resident), accounts.totals(resident), clock().today()
    eligibility = benefits.eligibility(standard, facts, history, today)
    return {
        "resident": residents.view(resident), "balance_fen": totals.balance_fen, "by_source": totals.by_source,
        "cumulative_years": history.cumulative_years,
        "required_years": years.required_years(standard, resident.birth_date),
        "paid_years": sorted(history.covered_years),
        "status": benefits.account_status(standard, facts, history, today,
                                          benefit_started_on=resident.benefit_started_on),
        "eligibility": {"eligible": eligibility.eligible, "reasons": [str(r) for r in eligibility.reasons]},
        "benefit": _benefit(standard, facts, history, totals.balance_fen, resident),
    }


def _benefit(standard, facts, history: ContributionHistory, balance_fen: int, resident) -> dict:
    estimate = benefits.estimate_benefit(standard, facts, history, balance_fen, clock().now(),
                                         tier_fen=accounts.latest_tier(resident))
    return {"monthly_fen": estimate.benefit.monthly_fen, "account_pension_fen": estimate.benefit.account_pension_fen,
            "exit_subsidy_fen": estimate.benefit.exit_subsidy_fen, "starts_on": estimate.starts_on.isoformat(),
            "assumptions": list(estimate.assumptions)}


@bp.get("/<resident_id>/ledger")
@resident_scoped
@bp.arguments(LedgerQuerySchema, location="query")
@bp.response(200, LedgerPageSchema)
def ledger(query, resident):
    """Account entries, newest first, 20 a page; filter by `year`."""
    items, next_page = accounts.ledger_page(resident, query.get("year"), query["page"])
    return {"items": items, "next_page": next_page}

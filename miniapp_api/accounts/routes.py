"""The individual account: balance by source, years, eligibility and benefit estimate; the ledger."""

from __future__ import annotations

from miniapp_api.accounts import service
from miniapp_api.accounts.schemas import AccountSchema, LedgerPageSchema, LedgerQuerySchema
from miniapp_api.core.api import Blueprint
from miniapp_api.identity.access import reads_with_resident, resident_read

bp = Blueprint("accounts", __name__, url_prefix="/api/v1/residents", description="Account lookup")
ACCOUNT_READS = reads_with_resident(service.account_reads)
# A ledger page shows nothing of the resident: only their id is read, for the authorization.
LEDGER_READS = {by_year: reads_with_resident(service.ledger_reads(by_year), ()) for by_year in (False, True)}


def ledger_reads(query: dict):
    """The ledger page's read for this query, with its bind parameters."""
    return LEDGER_READS[query.get("year") is not None], service.page_params(query.get("year"), query["page"])


@bp.get("/<resident_id>/account")
@resident_read(reads=ACCOUNT_READS)
@bp.response(200, AccountSchema)
def account(resident, rows):
    """The resident's account: balance by source, paid years, status, eligibility and benefit."""
    return service.account(resident, rows)


@bp.get("/<resident_id>/ledger")
@bp.arguments(LedgerQuerySchema, location="query")
@resident_read(reads=ledger_reads)
@bp.response(200, LedgerPageSchema)
def ledger(query, resident, rows):
    """Account entries, newest first, 20 a page; filter by `year`."""
    return service.ledger_page(rows["entries"], query["page"])

"""The individual account: balance by source, years, eligibility and benefit estimate; the ledger."""

from __future__ import annotations

from miniapp_api.accounts import service
from miniapp_api.accounts.schemas import AccountSchema, LedgerPageSchema, LedgerQuerySchema
from miniapp_api.core.api import Blueprint
from miniapp_api.identity.access import reads_with_resident, resident_read

bp = Blueprint("accounts", __name__, url_prefix="/api/v1/residents", description="Account lookup")
ACCOUNT_READS = reads_with_resident(service.account_reads)


@bp.get("/<resident_id>/account")
@resident_read(reads=ACCOUNT_READS)
@bp.response(200, AccountSchema)
def account(resident, rows):
    """The resident's account: balance by source, paid years, status, eligibility and benefit."""
    return service.account(resident, rows)


@bp.get("/<resident_id>/ledger")
@resident_read
@bp.arguments(LedgerQuerySchema, location="query")
@bp.response(200, LedgerPageSchema)
def ledger(query, resident):
    """Account entries, newest first, 20 a page; filter by `year`."""
    return service.ledger_page(resident, query.get("year"), query["page"])
